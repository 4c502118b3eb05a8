#pragma once
// POST/GET/DELETE /v1/jobs (docs/JOBS.md): HTTP in and out of jobs::JobService.
#include "core/request_limits.hpp"
#include "http/router.hpp"
#include "jobs/job_service.hpp"

namespace aegis::api {

// A submit outside `limits` (config `limits:`) is 400 before anything is admitted or stored.
void register_job_routes(http::Router& router, jobs::JobService& service, const RequestLimits& limits);

}  // namespace aegis::api

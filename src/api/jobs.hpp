#pragma once
// POST/GET/DELETE /v1/jobs (docs/JOBS.md): HTTP in and out of jobs::JobService.
#include "http/router.hpp"
#include "jobs/job_service.hpp"

namespace aegis::api {

void register_job_routes(http::Router& router, jobs::JobService& service);

}  // namespace aegis::api

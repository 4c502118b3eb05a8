#pragma once
// Demo mode (`aegis serve --demo`): what each simulated provider received,
// and fault injection, so a person can see what a provider would have seen
// and try outages. Admin-key protected like every /admin route.
#include <string>
#include <vector>

#include "config/config.hpp"
#include "http/router.hpp"
#include "sim/simulator.hpp"

namespace aegis::api {

struct DemoUpstream {
  std::string provider;
  config::Locality locality;
  sim::Simulator* simulator;
};

void register_demo_routes(http::Router& router, std::vector<DemoUpstream> upstreams);

}  // namespace aegis::api

#pragma once
// The provider types this program can build: the adapters of providers/
// (ProviderFactory::builtin()) plus `sim`, an in-process provider simulator
// (sim/) behind the openai_compat adapter, for demos, tests and benchmarks.
// Registered here so that providers/ does not depend on sim/.
#include "providers/factory.hpp"

namespace aegis::app {

const providers::ProviderFactory& provider_factory();

}  // namespace aegis::app

#pragma once
// The composition root: builds every component from one config snapshot,
// serves until SIGTERM/SIGINT, then drains and stops.
#include <cstdint>
#include <memory>

#include "config/config.hpp"

namespace aegis::app {

struct ServeOptions {
  bool demo = false;
  bool install_signal_handlers = true;
};

class Application {
 public:
  Application(std::shared_ptr<const config::Config> config, ServeOptions options);
  ~Application();
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Opens the store and binds the listener. Throws at start-up on failure.
  std::uint16_t start();
  // Runs the I/O threads until a shutdown has drained. Returns the process exit code.
  int run();
  // What SIGTERM does: stop accepting, finish in-flight requests, stop.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::app

#include "cli/sim_command.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <iostream>
#include <thread>
#include <vector>

#include "sim/simulator.hpp"
#include "telemetry/log.hpp"

namespace aegis::cli {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitStartup = 3;

bool split_listen(const std::string& listen, std::string& host, std::uint16_t& port) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string digits = listen.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  const int value = std::stoi(digits);
  if (value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

SimCommand::SimCommand(CLI::App& app) {
  sim_ = app.add_subcommand(
      "sim",
      "Run the provider simulator: Anthropic, Azure OpenAI, OpenAI-compatible and Ollama endpoints on loopback, "
      "with deterministic answers, latency knobs and fault injection (POST /_sim/faults)");
  sim_->add_option("--listen", listen_, "HOST:PORT to listen on (port 0: any free port)")->capture_default_str();
  sim_->add_option("--ttft-ms", ttft_ms_, "time to first token, milliseconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sim_->add_option("--per-token-ms", per_token_ms_, "delay between streamed pieces, milliseconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sim_->add_option("--threads", threads_, "I/O threads (0: one per core)")->capture_default_str();
  sim_->add_option("--request-log", log_size_, "how many requests GET /_sim/requests keeps")->capture_default_str();
  sim_->add_option("--name", name_, "name shown in logs and /_sim/health")->capture_default_str();
  sim_->add_option("--log-level", log_level_, "trace|debug|info|warn|error|off")->capture_default_str();
}

bool SimCommand::parsed() const { return sim_->parsed(); }

int SimCommand::run() {
  sim::SimOptions options;
  if (!split_listen(listen_, options.host, options.port)) {
    std::cerr << "aegis sim: --listen expects HOST:PORT, got '" << listen_ << "'\n";
    return kExitUsage;
  }
  if (!telemetry::init_logging(log_level_)) {
    std::cerr << "aegis sim: unknown --log-level '" << log_level_ << "'\n";
    return kExitUsage;
  }
  options.time_to_first_token = std::chrono::milliseconds(ttft_ms_);
  options.per_token_delay = std::chrono::milliseconds(per_token_ms_);
  options.request_log_size = log_size_;
  options.name = name_;

  unsigned threads = threads_ > 0 ? threads_ : std::max(1u, std::thread::hardware_concurrency());
  boost::asio::io_context io(static_cast<int>(threads));
  sim::Simulator simulator(io, options);
  std::uint16_t port = 0;
  try {
    port = simulator.start();
  } catch (const std::exception& e) {
    telemetry::log(telemetry::LogLevel::error, "sim_startup_failed", {{"listen", listen_}, {"error", e.what()}});
    telemetry::flush_logs();
    std::cerr << "aegis sim: cannot listen on " << listen_ << ": " << e.what() << "\n";
    return kExitStartup;
  }

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    telemetry::log(telemetry::LogLevel::info, "sim_shutdown", {{"signal", signal_number}});
    simulator.stop([&io] { io.stop(); });
  });

  const std::string url = "http://" +
                          (options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host) +
                          ":" + std::to_string(port);
  telemetry::log(telemetry::LogLevel::info, "sim_listening",
                 {{"simulator", true},
                  {"name", options.name},
                  {"host", options.host},
                  {"port", port},
                  {"url", url},
                  {"message",
                   "provider SIMULATOR (not a real provider): Anthropic, Azure OpenAI, "
                   "OpenAI-compatible and Ollama endpoints"},
                  {"threads", threads},
                  {"ttft_ms", ttft_ms_},
                  {"per_token_ms", per_token_ms_}});
  std::cout << "aegis sim: provider simulator listening on " << url << std::endl;

  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  telemetry::log(telemetry::LogLevel::info, "sim_stopped", {{"port", port}});
  telemetry::flush_logs();
  return kExitOk;
}

}  // namespace aegis::cli

#include "jobs/job.hpp"

#include <openssl/rand.h>

#include <stdexcept>

#include "core/encoding.hpp"

namespace aegis::jobs {

namespace {
constexpr std::array<std::string_view, kJobStatusCount> kNames = {"queued", "running",   "succeeded",
                                                                  "failed", "cancelled", "expired"};
}  // namespace

std::string_view to_string(JobStatus status) noexcept {
  const auto i = static_cast<std::size_t>(status);
  return i < kNames.size() ? kNames[i] : std::string_view("unknown");
}

std::optional<JobStatus> parse_job_status(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == text) return static_cast<JobStatus>(i);
  }
  return std::nullopt;
}

std::string new_job_id(std::int64_t created_at_ms) {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("the system random number generator failed");
  }
  // 48 bits of milliseconds, big-endian, last until the year 10889; negative times clamp to 0.
  const auto ms = static_cast<std::uint64_t>(created_at_ms < 0 ? 0 : created_at_ms);
  std::array<unsigned char, 6> time{};
  for (std::size_t i = 0; i < time.size(); ++i) time[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  return "job_" + hex_encode(time) + hex_encode(bytes);
}

}  // namespace aegis::jobs

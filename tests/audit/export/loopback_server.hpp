#pragma once
// A loopback TCP server on a thread of its own for the network sink tests:
// keeps everything it receives; `answer`, when set, is called with the bytes
// of a connection so far and returns what to write back (HTTP) or nothing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace aegis::audit::siem::test {

class LoopbackServer {
 public:
  using Answer = std::function<std::optional<std::string>(std::string& pending)>;

  explicit LoopbackServer(Answer answer = nullptr) : answer_(std::move(answer)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listen_fd_, 16) != 0) {
      throw std::runtime_error("the loopback test server cannot listen");
    }
    socklen_t size = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &size);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~LoopbackServer() {
    stop_ = true;
    thread_.join();
    for (const auto& c : clients_) ::close(c.fd);
    ::close(listen_fd_);
  }

  int port() const { return port_; }
  std::string received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  int connections() const { return accepted_.load(); }
  // Closes every accepted connection (after reading what they sent).
  void drop_connections() {
    drop_ = true;
    while (drop_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

 private:
  struct Client {
    int fd;
    std::string pending;
  };

  void run() {
    while (!stop_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (const auto& c : clients_) fds.push_back({c.fd, POLLIN, 0});
      ::poll(fds.data(), fds.size(), 5);
      if (fds[0].revents & POLLIN) {
        const int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd >= 0) {
          clients_.push_back({fd, {}});
          ++accepted_;
        }
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        auto& client = clients_[i - 1];
        char buffer[65536];
        const ssize_t n = ::recv(client.fd, buffer, sizeof(buffer), MSG_DONTWAIT);
        if (n <= 0) {
          ::close(client.fd);
          client.fd = -1;
          continue;
        }
        {
          std::lock_guard lock(mu_);
          received_.append(buffer, static_cast<std::size_t>(n));
        }
        client.pending.append(buffer, static_cast<std::size_t>(n));
        if (answer_) {
          while (auto reply = answer_(client.pending)) {
            // NOLINTNEXTLINE(clang-analyzer-cplusplus.InnerPointer): reply is alive; pending is not it
            if (::send(client.fd, reply->data(), reply->size(), MSG_NOSIGNAL) < 0) break;
          }
        }
      }
      std::erase_if(clients_, [](const Client& c) { return c.fd < 0; });
      if (drop_) {
        for (const auto& c : clients_) ::close(c.fd);
        clients_.clear();
        drop_ = false;
      }
    }
  }

  Answer answer_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> drop_{false};
  std::atomic<int> accepted_{0};
  std::vector<Client> clients_;
  std::mutex mu_;
  std::string received_;
  std::thread thread_;
};

}  // namespace aegis::audit::siem::test

// The egress detector on every cloud-bound body: 4 KB chat-completion requests
// that hold nothing RESTRICTED (the common case, which must stay cheap):
// English prose; prose with prices, dates, ids and token counts; and
// multilingual text (French, Chinese, Arabic, Hindi, Russian, Japanese). A
// fourth body of nothing but numbers shows the worst case.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "compliance/egress_detector.hpp"

namespace {

constexpr std::size_t kBodySize = 4096;

// A chat request whose message contents cycle through `paragraphs` until the
// body reaches kBodySize bytes (it ends at a paragraph, so a little over).
std::string chat_body(const std::vector<std::string>& paragraphs) {
  std::string body = R"({"model":"gpt-4o-2024-08-06","temperature":0.2,"max_tokens":1024,"stream":true,"messages":[)"
                     R"({"role":"system","content":"You are a helpful support assistant for Example Corp."})";
  std::size_t i = 0;
  while (body.size() < kBodySize - 2) {
    body += R"(,{"role":")";
    body += (i % 2 == 0) ? "user" : "assistant";
    body += R"(","content":")";
    body += paragraphs[i % paragraphs.size()];
    body += R"("})";
    ++i;
  }
  body += "]}";
  return body;
}

const std::vector<std::string>& prose() {
  static const std::vector<std::string> p = {
      "Thanks for reaching out about the delayed shipment. I checked with the warehouse team this morning and the "
      "package left our facility on Tuesday; the carrier expects to deliver it by Friday afternoon.",
      "Could you summarise the main arguments of the essay? I found the section about urban planning convincing, "
      "but the economic analysis in chapter four seemed thin to me, and the conclusion rushed.",
      "Please review the pull request before the release meeting. The retry logic in the HTTP client now backs off "
      "exponentially, and the integration tests cover the timeout paths we discussed last week.",
      "Our planning doc lists the priorities: reduce latency, migrate the last services to the new queue, and "
      "finish the accessibility audit of the settings pages before the summer holidays begin.",
  };
  return p;
}

const std::vector<std::string>& figures() {
  static const std::vector<std::string> p = {
      "Order ORD-2024-118734 was placed on 2024-05-14 at 09:21:33 for $1,299.99 plus $84.50 shipping; the invoice "
      "INV-00482193 is due 2024-06-13. Tracking 1Z999AA10123456784, weight 2.35 kg.",
      "2024-05-14T09:21:33.482Z INFO request_id=7f3a2c1e-9b4d-4e21-a8f0-3c5d9e7b1a26 latency_ms=184 status=200 "
      "bytes=5120 upstream=10.0.3.17:8443 retries=0 created=1715678493123",
      "Usage so far: prompt_tokens 12842, completion_tokens 3391, total 16233 across 57 requests; p95 latency 812 "
      "ms, v2.14.3 deployed on build 10.0.19045.3693, call +1 416 555 0199 ext. 204.",
      "Ship to 221B Baker Street, London NW1 6XE; alternate 1600 Amphitheatre Pkwy, Mountain View, CA 94043. "
      "Coordinates 51.5237715, -0.1585531. Commit 3f9a8c2e1d7b6a5f4e3d2c1b0a9f8e7d6c5b4a39.",
  };
  return p;
}

const std::string& english() {
  static const std::string b = chat_body(prose());
  return b;
}

// Prose with a paragraph of prices, dates, ids, addresses and token counts
// between every two: about 40 numbers per kilobyte.
const std::string& numbers() {
  static const std::string b = [] {
    std::vector<std::string> mixed;
    for (std::size_t i = 0; i < 4; ++i) {
      mixed.push_back(prose()[i]);
      mixed.push_back(prose()[(i + 1) % 4]);
      mixed.push_back(figures()[i]);
    }
    return chat_body(mixed);
  }();
  return b;
}

// Nothing but such paragraphs: about 130 numbers per kilobyte, a worst case
// for a digits-first scan rather than a typical body.
const std::string& dense_numbers() {
  static const std::string b = chat_body(figures());
  return b;
}

const std::string& multilingual() {
  static const std::string b = chat_body({
      "Bonjour, pourriez-vous vérifier l'état de ma commande ? Elle devait arriver mercredi, mais le suivi "
      "n'a pas été mis à jour depuis trois jours. Merci d'avance pour votre aide.",
      "您好，我想了解一下退货政策。我上周购买的耳机有质量问题，左耳没有声音。请问需要提供哪些材料？谢谢。",
      "مرحبا، أود الاستفسار عن حالة طلبي. كان من المفترض أن يصل يوم الأربعاء ولكن لم يتم تحديث التتبع منذ ثلاثة أيام.",
      "नमस्ते, मैं अपने ऑर्डर की स्थिति के बारे में जानना चाहता हूँ। यह बुधवार को आना था लेकिन ट्रैकिंग अपडेट नहीं हुई है।",
      "Здравствуйте! Подскажите, пожалуйста, когда будет доставлен мой заказ? Трекинг не обновлялся уже три дня.",
      "こんにちは。先週注文したヘッドフォンの左側から音が出ません。返品の手続きを教えていただけますか。",
  });
  return b;
}

void run(benchmark::State& state, const std::string& body) {
  const auto detector = aegis::compliance::make_egress_detector("digits_first");
  if (detector->scan(body)) {
    state.SkipWithError("the benchmark body must hold no RESTRICTED value");
    return;
  }
  for (auto _ : state) {
    auto hit = detector->scan(body);
    benchmark::DoNotOptimize(hit);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  state.counters["body_bytes"] = static_cast<double>(body.size());
}

void BM_EgressScanEnglish(benchmark::State& state) { run(state, english()); }
void BM_EgressScanNumbers(benchmark::State& state) { run(state, numbers()); }
void BM_EgressScanMultilingual(benchmark::State& state) { run(state, multilingual()); }
void BM_EgressScanDenseNumbers(benchmark::State& state) { run(state, dense_numbers()); }

BENCHMARK(BM_EgressScanEnglish);
BENCHMARK(BM_EgressScanNumbers);
BENCHMARK(BM_EgressScanMultilingual);
BENCHMARK(BM_EgressScanDenseNumbers);

}  // namespace

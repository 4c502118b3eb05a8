#pragma once
// Splits a document into chunks for retrieval: whole sentences packed up to a
// token budget, a paragraph break preferred over a sentence break, and the
// last sentences of a chunk repeated at the start of the next (the overlap),
// so a fact that straddles a boundary is still found whole in one chunk.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace aegis::rag {

struct ChunkingOptions {
  std::size_t max_tokens = 256;     // per chunk (estimated: 4 bytes a token)
  std::size_t overlap_tokens = 32;  // repeated from the previous chunk; < max_tokens
};

// The estimate every budget here uses: 4 bytes of UTF-8 a token, rounded up.
std::size_t estimate_tokens(std::string_view text) noexcept;

// Chunks of `text` in order; empty for blank text. A sentence longer than the
// budget is cut at spaces (or, with none, at UTF-8 character boundaries).
std::vector<std::string> chunk_text(std::string_view text, const ChunkingOptions& options);

}  // namespace aegis::rag

#include "rag/chunker.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aegis::rag {
namespace {

std::string sentence(int i) {
  return "Sentence number " + std::to_string(i) + " talks about topic " + std::to_string(i) + ".";
}

TEST(Chunker, BlankTextHasNoChunks) {
  EXPECT_TRUE(chunk_text("", {}).empty());
  EXPECT_TRUE(chunk_text("  \n\n \t ", {}).empty());
}

TEST(Chunker, ASmallDocumentIsOneChunk) {
  const auto chunks = chunk_text("One sentence. Another one!\n\nA second paragraph?", {256, 32});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0], "One sentence. Another one!\n\nA second paragraph?");
}

TEST(Chunker, EveryChunkFitsTheBudgetAndNoSentenceIsCut) {
  std::string text;
  for (int i = 0; i < 60; ++i) text += sentence(i) + (i % 7 == 6 ? "\n\n" : " ");
  const ChunkingOptions options{40, 12};
  const auto chunks = chunk_text(text, options);
  ASSERT_GT(chunks.size(), 3u);
  for (const auto& chunk : chunks) {
    EXPECT_LE(estimate_tokens(chunk), options.max_tokens) << chunk;
    EXPECT_EQ(chunk.front(), 'S') << chunk;  // starts at a sentence
    EXPECT_EQ(chunk.back(), '.') << chunk;   // ends at one
  }
  // Every sentence is in some chunk, in order.
  std::size_t from = 0;
  for (int i = 0; i < 60; ++i) {
    bool found = false;
    for (std::size_t c = from; c < chunks.size() && !found; ++c) {
      if (chunks[c].find(sentence(i)) != std::string::npos) {
        found = true;
        from = c;
      }
    }
    EXPECT_TRUE(found) << i;
  }
}

TEST(Chunker, ConsecutiveChunksOverlapByTheirLastSentence) {
  std::string text;
  for (int i = 0; i < 30; ++i) text += sentence(i) + " ";
  const auto chunks = chunk_text(text, {40, 12});
  ASSERT_GT(chunks.size(), 2u);
  for (std::size_t c = 1; c < chunks.size(); ++c) {
    const auto& previous = chunks[c - 1];
    const auto last = previous.substr(previous.rfind("Sentence"));
    EXPECT_EQ(chunks[c].rfind(last, 0), 0u) << "chunk " << c << " does not start with " << last;
  }
  const auto without = chunk_text(text, {40, 0});
  EXPECT_LT(without.size(), chunks.size());
  EXPECT_EQ(without[1].find(without[0].substr(without[0].rfind("Sentence"))), std::string::npos);
}

TEST(Chunker, AParagraphPastHalfTheBudgetEndsTheChunk) {
  const std::string first = sentence(1) + " " + sentence(2) + " " + sentence(3);  // 29 tokens
  const auto chunks = chunk_text(first + "\n\n" + sentence(4), {48, 0});          // both fit in 48
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0], first);
  EXPECT_EQ(chunks[1], sentence(4));
}

TEST(Chunker, ALongSentenceIsCutAtSpacesAndMultibyteTextAtCharacterBoundaries) {
  std::string words;
  for (int i = 0; i < 200; ++i) words += "word" + std::to_string(i) + " ";
  for (const auto& chunk : chunk_text(words, {16, 0})) EXPECT_LE(chunk.size(), 64u);
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "é";  // 2 bytes each, no spaces
  const auto chunks = chunk_text(accents, {16, 0});
  std::string joined;
  for (const auto& chunk : chunks) {
    EXPECT_LE(chunk.size(), 64u);
    EXPECT_EQ(chunk.size() % 2, 0u) << "a UTF-8 character was split";
    joined += chunk;
  }
  EXPECT_EQ(joined, accents);
}

TEST(Chunker, DecimalsAndDottedNamesDoNotEndASentence) {
  const auto chunks = chunk_text("Pi is 3.14 and the host is api.example.com today. Next.", {256, 0});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0], "Pi is 3.14 and the host is api.example.com today. Next.");
}

}  // namespace
}  // namespace aegis::rag

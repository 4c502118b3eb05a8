#include "rag/vector_index.hpp"

#include <boost/json.hpp>
// hnswlib 0.6.2's SSE path prefetches the slot after a full neighbour list,
// a 4-byte read past the allocation that AddressSanitizer reports (harmless
// on real hardware, and fixed upstream later): sanitizer builds take its
// plain loops instead.
#if defined(__SANITIZE_ADDRESS__) && !defined(NO_MANUAL_VECTORIZATION)
#define NO_MANUAL_VECTORIZATION
#endif
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace aegis::rag {

namespace {

// Ties broken by chunk id so that equal scores come back in a stable order.
bool better(const ScoredChunk& a, const ScoredChunk& b) {
  return a.score != b.score ? a.score > b.score : a.chunk.chunk_id < b.chunk.chunk_id;
}

}  // namespace

struct VectorIndex::Partition {
  std::size_t dims = 0;
  // hnswlib's inner-product distance (1 - a·b, SIMD), also used for exact
  // scoring so both modes give a chunk the same score.
  std::unique_ptr<hnswlib::InnerProductSpace> space;

  // Exact mode: chunks and their vectors, `dims` floats each.
  std::vector<IndexedChunk> exact_chunks;
  std::vector<float> exact_vectors;

  // Graph mode: label i is by_label[i] (an erased one has an empty chunk_id).
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
  std::vector<IndexedChunk> by_label;
  std::size_t live = 0;
  std::size_t deleted = 0;

  std::size_t size() const { return graph ? live : exact_chunks.size(); }

  float distance(const float* a, const float* b) const {
    return space->get_dist_func()(a, b, space->get_dist_func_param());
  }

  const float* graph_vector(std::size_t label) const {
    return reinterpret_cast<const float*>(graph->getDataByInternalId(graph->label_lookup_.at(label)));
  }

  // (Re)builds the graph from these chunks and vectors; capacity for growth.
  void build_graph(std::vector<IndexedChunk> chunks, const std::vector<float>& vectors,
                   const VectorIndexOptions& options) {
    const std::size_t n = chunks.size();
    graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(space.get(), std::max<std::size_t>(n * 2, 1024),
                                                              options.hnsw_m, options.hnsw_ef_construction);
    graph->setEf(options.hnsw_ef_search);
    for (std::size_t i = 0; i < n; ++i) graph->addPoint(vectors.data() + i * dims, i);
    by_label = std::move(chunks);
    live = n;
    deleted = 0;
    exact_chunks.clear();
    exact_chunks.shrink_to_fit();
    exact_vectors.clear();
    exact_vectors.shrink_to_fit();
  }

  void add(const IndexedChunk& chunk, const std::vector<float>& vector, const VectorIndexOptions& options) {
    if (graph) {
      if (graph->cur_element_count >= graph->max_elements_) graph->resizeIndex(graph->max_elements_ * 2);
      graph->addPoint(vector.data(), by_label.size());
      by_label.push_back(chunk);
      ++live;
      return;
    }
    exact_chunks.push_back(chunk);
    exact_vectors.insert(exact_vectors.end(), vector.begin(), vector.end());
    if (exact_chunks.size() >= options.hnsw_threshold) {
      auto chunks = std::move(exact_chunks);
      const auto vectors = std::move(exact_vectors);
      build_graph(std::move(chunks), vectors, options);
    }
  }

  // Returns the vectors erased.
  std::size_t erase_document(const std::string& document_id, const VectorIndexOptions& options) {
    std::size_t erased = 0;
    if (!graph) {
      std::size_t kept = 0;
      for (std::size_t i = 0; i < exact_chunks.size(); ++i) {
        if (exact_chunks[i].document_id == document_id) {
          ++erased;
          continue;
        }
        if (kept != i) {
          exact_chunks[kept] = std::move(exact_chunks[i]);
          std::copy_n(exact_vectors.begin() + static_cast<std::ptrdiff_t>(i * dims), dims,
                      exact_vectors.begin() + static_cast<std::ptrdiff_t>(kept * dims));
        }
        ++kept;
      }
      exact_chunks.resize(kept);
      // Nothing of an erased vector stays behind in the spare capacity either.
      std::fill(exact_vectors.begin() + static_cast<std::ptrdiff_t>(kept * dims), exact_vectors.end(), 0.0F);
      exact_vectors.resize(kept * dims);
      return erased;
    }
    for (std::size_t label = 0; label < by_label.size(); ++label) {
      if (by_label[label].document_id != document_id || by_label[label].chunk_id.empty()) continue;
      graph->markDelete(label);
      std::memset(graph->getDataByInternalId(graph->label_lookup_.at(label)), 0, dims * sizeof(float));
      by_label[label] = IndexedChunk{};
      --live;
      ++deleted;
      ++erased;
    }
    if (erased > 0 && deleted * 4 > live + deleted) compact(options);
    return erased;
  }

  // A graph a quarter deleted is rebuilt from its live vectors (or goes back
  // to exact search when they are well below the threshold).
  void compact(const VectorIndexOptions& options) {
    std::vector<IndexedChunk> chunks;
    std::vector<float> vectors;
    chunks.reserve(live);
    vectors.reserve(live * dims);
    for (std::size_t label = 0; label < by_label.size(); ++label) {
      if (by_label[label].chunk_id.empty()) continue;
      const float* v = graph_vector(label);
      vectors.insert(vectors.end(), v, v + dims);
      chunks.push_back(std::move(by_label[label]));
    }
    graph.reset();
    by_label.clear();
    live = 0;
    deleted = 0;
    if (chunks.size() * 2 < options.hnsw_threshold) {
      exact_chunks = std::move(chunks);
      exact_vectors = std::move(vectors);
      return;
    }
    build_graph(std::move(chunks), vectors, options);
  }

  void search(const std::vector<float>& query, std::size_t top_k, const std::set<std::string>* documents,
              std::vector<ScoredChunk>& out) const {
    if (graph && documents != nullptr) {
      const std::size_t first = out.size();
      for (std::size_t label = 0; label < by_label.size(); ++label) {
        const auto& chunk = by_label[label];
        if (chunk.chunk_id.empty() || !documents->contains(chunk.document_id)) continue;
        out.push_back(ScoredChunk{chunk, 1.0 - static_cast<double>(distance(query.data(), graph_vector(label)))});
      }
      keep_best(out, first, top_k);
      return;
    }
    if (graph) {
      if (live == 0) return;
      auto found = graph->searchKnn(query.data(), std::min(top_k, live));
      while (!found.empty()) {
        const auto& [distance, label] = found.top();
        out.push_back(ScoredChunk{by_label[label], 1.0 - static_cast<double>(distance)});
        found.pop();
      }
      return;
    }
    const std::size_t first = out.size();
    for (std::size_t i = 0; i < exact_chunks.size(); ++i) {
      if (documents != nullptr && !documents->contains(exact_chunks[i].document_id)) continue;
      out.push_back(ScoredChunk{exact_chunks[i],
                                1.0 - static_cast<double>(distance(query.data(), exact_vectors.data() + i * dims))});
    }
    keep_best(out, first, top_k);
  }

  // out[first..] cut to its best top_k.
  static void keep_best(std::vector<ScoredChunk>& out, std::size_t first, std::size_t top_k) {
    const std::size_t k = std::min(top_k, out.size() - first);
    const auto begin = out.begin() + static_cast<std::ptrdiff_t>(first);
    std::partial_sort(begin, begin + static_cast<std::ptrdiff_t>(k), out.end(), better);
    out.resize(first + k);
  }
};

VectorIndex::VectorIndex(VectorIndexOptions options) : options_(options) {
  options_.hnsw_threshold = std::max<std::size_t>(options_.hnsw_threshold, 1);
}

VectorIndex::~VectorIndex() = default;

Result<void> VectorIndex::check(const IndexScope& scope, Level level, const std::vector<float>& vector) const {
  if (vector.empty()) return make_error(ErrorCode::invalid_request, "an embedding has no dimensions");
  const auto found = partitions_.find(Key{scope.team, scope.collection, scope.model, level});
  if (found == partitions_.end() || found->second->dims == vector.size()) return {};
  return make_error(ErrorCode::invalid_request,
                    "embedding model '" + scope.model + "' returned " + std::to_string(vector.size()) +
                        " dimensions where its index holds " + std::to_string(found->second->dims));
}

Result<void> VectorIndex::add(const IndexScope& scope, const IndexedChunk& chunk, const std::vector<float>& vector) {
  AEGIS_TRY_VOID(check(scope, chunk.level, vector));
  auto& partition = partitions_[Key{scope.team, scope.collection, scope.model, chunk.level}];
  if (!partition) {
    partition = std::make_unique<Partition>();
    partition->dims = vector.size();
    partition->space = std::make_unique<hnswlib::InnerProductSpace>(vector.size());
  }
  partition->add(chunk, vector, options_);
  ++vectors_;
  return {};
}

void VectorIndex::erase_document(const std::string& team, const std::string& collection,
                                 const std::string& document_id) {
  for (auto it = partitions_.lower_bound(Key{team, collection, "", Level::PUBLIC}); it != partitions_.end();) {
    const auto& [key_team, key_collection, model, level] = it->first;
    if (key_team != team || key_collection != collection) break;
    vectors_ -= static_cast<std::int64_t>(it->second->erase_document(document_id, options_));
    if (it->second->size() == 0) {
      it = partitions_.erase(it);
      continue;
    }
    ++it;
  }
}

std::vector<ScoredChunk> VectorIndex::search(const IndexScope& scope, Level min_level, Level clearance,
                                             const std::vector<float>& query, std::size_t top_k,
                                             const std::set<std::string>* documents) const {
  std::vector<ScoredChunk> out;
  if (top_k == 0 || query.empty()) return out;
  for (int l = static_cast<int>(min_level); l <= static_cast<int>(clearance); ++l) {
    const auto found = partitions_.find(Key{scope.team, scope.collection, scope.model, static_cast<Level>(l)});
    if (found == partitions_.end() || found->second->dims != query.size()) continue;
    found->second->search(query, top_k, documents, out);
  }
  const std::size_t k = std::min(top_k, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(k), out.end(), better);
  out.resize(k);
  return out;
}

namespace {

constexpr const char* kManifest = "manifest.json";

}  // namespace

Result<void> VectorIndex::save(const std::string& dir, const std::string& fingerprint) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (graphs() == 0) return {};
  fs::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::internal, "cannot create the index directory");
  boost::json::array parts;
  int n = 0;
  try {
    for (const auto& [key, partition] : partitions_) {
      if (!partition->graph) continue;
      const std::string file = "graph-" + std::to_string(n++) + ".bin";
      partition->graph->saveIndex((fs::path(dir) / file).string());
      boost::json::array labels;
      for (const auto& chunk : partition->by_label) {
        labels.push_back(
            boost::json::array{boost::json::string(chunk.chunk_id), boost::json::string(chunk.document_id)});
      }
      const auto& [team, collection, model, level] = key;
      parts.push_back(boost::json::object{{"team", team},
                                          {"collection", collection},
                                          {"model", model},
                                          {"level", static_cast<int>(level)},
                                          {"dims", partition->dims},
                                          {"file", file},
                                          {"live", partition->live},
                                          {"deleted", partition->deleted},
                                          {"labels", std::move(labels)}});
    }
  } catch (const std::exception&) {
    fs::remove_all(dir, ec);
    return make_error(ErrorCode::internal, "cannot write the index graphs");
  }
  // The manifest last: without it nothing is loaded.
  std::ofstream out(fs::path(dir) / kManifest, std::ios::trunc);
  out << boost::json::serialize(boost::json::object{{"fingerprint", fingerprint}, {"partitions", std::move(parts)}});
  out.close();
  if (!out) {
    fs::remove_all(dir, ec);
    return make_error(ErrorCode::internal, "cannot write the index manifest");
  }
  return {};
}

std::size_t VectorIndex::load(const std::string& dir, const std::string& fingerprint) {
  namespace fs = std::filesystem;
  std::size_t count = 0;
  std::ifstream in(fs::path(dir) / kManifest);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    const auto manifest = boost::json::parse(text.str(), ec);
    const auto* object = manifest.if_object();
    const auto* stamp = object ? object->if_contains("fingerprint") : nullptr;
    const auto* parts = object ? object->if_contains("partitions") : nullptr;
    if (!ec && stamp && stamp->is_string() && stamp->get_string() == fingerprint && parts && parts->is_array()) {
      try {
        for (const auto& item : parts->get_array()) {
          const auto& part = item.as_object();
          const Key key{std::string(part.at("team").as_string()), std::string(part.at("collection").as_string()),
                        std::string(part.at("model").as_string()),
                        static_cast<Level>(part.at("level").to_number<int>())};
          auto partition = std::make_unique<Partition>();
          partition->dims = part.at("dims").to_number<std::size_t>();
          partition->space = std::make_unique<hnswlib::InnerProductSpace>(partition->dims);
          partition->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(
              partition->space.get(), (fs::path(dir) / std::string(part.at("file").as_string())).string());
          partition->graph->setEf(options_.hnsw_ef_search);
          for (const auto& label : part.at("labels").as_array()) {
            const auto& pair = label.as_array();
            partition->by_label.push_back(IndexedChunk{std::string(pair.at(0).as_string()),
                                                       std::string(pair.at(1).as_string()), std::get<3>(key)});
          }
          partition->live = part.at("live").to_number<std::size_t>();
          partition->deleted = part.at("deleted").to_number<std::size_t>();
          if (partition->by_label.size() != partition->graph->cur_element_count) throw std::runtime_error("labels");
          vectors_ += static_cast<std::int64_t>(partition->live);
          partitions_[key] = std::move(partition);
          loaded_.insert(key);
          ++count;
        }
      } catch (const std::exception&) {
        // A damaged file: everything is rebuilt from the store instead.
        for (const auto& key : loaded_) partitions_.erase(key);
        loaded_.clear();
        vectors_ = 0;
        count = 0;
      }
    }
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return count;
}

bool VectorIndex::loaded(const IndexScope& scope, Level level) const {
  return loaded_.contains(Key{scope.team, scope.collection, scope.model, level});
}

std::size_t VectorIndex::graphs() const {
  return static_cast<std::size_t>(
      std::count_if(partitions_.begin(), partitions_.end(), [](const auto& p) { return p.second->graph != nullptr; }));
}

}  // namespace aegis::rag

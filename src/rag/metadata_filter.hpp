#pragma once
// A query's `filter` (docs/ARCHITECTURE.md, Retrieval): {KEY: VALUE | [VALUE, ...]}
// over the documents' metadata, VALUE a JSON string, number or boolean.
#include <boost/json/value.hpp>

#include "core/result.hpp"
#include "rag/rag_store.hpp"

namespace aegis::rag {

inline constexpr std::size_t kMaxFilterKeys = 16;
inline constexpr std::size_t kMaxFilterValues = 100;

// 400 for anything but an object of scalars or non-empty arrays of scalars.
Result<MetadataFilter> parse_metadata_filter(const boost::json::value& filter);

}  // namespace aegis::rag

#pragma once
// identity::DocumentFetcher over the outbound HTTP client: an identity
// provider's discovery document and JWK Set. One GET, no redirects followed,
// at most 1 MiB, short timeouts (a request waits on it while keys are
// fetched). The URLs come from the config (oidc.issuers, checked https or
// loopback http at load) and from the discovery document (checked the same
// way by identity/oidc_verifier.cpp); an identity provider may well be on the
// gateway's own network, so no local-address guard applies here.
//
// Only a factory here: identity/ is a PRIVATE dependency of app/, so this
// header names its interface without including it.
#include <memory>

#include "http/client.hpp"

namespace aegis::identity {
class DocumentFetcher;
}  // namespace aegis::identity

namespace aegis::app {

// `client` must outlive the fetcher.
std::unique_ptr<identity::DocumentFetcher> make_http_document_fetcher(http::HttpClient& client);

}  // namespace aegis::app

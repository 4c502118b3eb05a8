#pragma once
// The entity type names detection reports (Finding::entity_type). Masking
// placeholders are built from these (CA_SIN_0, EMAIL_ADDRESS_1, ...).
// Custom recognizers add their own configured names.
#include <string_view>

namespace aegis::classify::entity {

// RESTRICTED
inline constexpr std::string_view kCreditCard = "CREDIT_CARD";
inline constexpr std::string_view kCaSin = "CA_SIN";
inline constexpr std::string_view kBankAccount = "BANK_ACCOUNT";
inline constexpr std::string_view kIban = "IBAN_CODE";
// CONFIDENTIAL (EMAIL_ADDRESS is CONFIDENTIAL at an internal domain, INTERNAL elsewhere)
inline constexpr std::string_view kApiKey = "API_KEY";  // vendor keys, AWS ids/secrets, generic assignments
inline constexpr std::string_view kBearerToken = "BEARER_TOKEN";
inline constexpr std::string_view kJwt = "JWT";
inline constexpr std::string_view kPrivateKey = "PRIVATE_KEY";
// INTERNAL (personal information)
inline constexpr std::string_view kEmail = "EMAIL_ADDRESS";
inline constexpr std::string_view kPhone = "PHONE_NUMBER";
inline constexpr std::string_view kUsSsn = "US_SSN";
inline constexpr std::string_view kIpAddress = "IP_ADDRESS";
inline constexpr std::string_view kCaPostalCode = "CA_POSTAL_CODE";

}  // namespace aegis::classify::entity

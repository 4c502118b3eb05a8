#pragma once
// The assembled prompt (everything the model will read, in one string, so
// that RAG context, history and tool arguments are classified together) and
// how findings in it map back to the request's fields for masking.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "classify/finding.hpp"
#include "core/chat.hpp"
#include "media/media_inspector.hpp"
#include "privacy/vault.hpp"

namespace aegis::gateway {

struct PromptField {
  // Everything a provider receives that can carry text: tool definitions,
  // stop sequences and pass-through fields (OpenAI `user`, `metadata`, ...)
  // are sent upstream too, so they are classified and masked like messages.
  // A system prompt or message whose text blocks are kept (a block carries
  // Anthropic's cache_control, core/chat.hpp) is one field per block
  // (system_block, message_block), so each block is masked on its own.
  // The text read out of an image or a PDF (media/media_inspector.hpp) is a
  // field too (attachment_text: `message`, and the attachment in `call`):
  // masking it means redacting the attachment.
  // A document's filename (attachment_name, same indices) is sent too.
  enum class Kind {
    attachment_text,
    attachment_name,
    system,
    system_block,
    message_text,
    message_block,
    tool_arguments,
    tool_description,
    tool_schema_string,
    stop,
    passthrough_string
  };
  Kind kind = Kind::system;
  std::size_t message =
      0;  // message_text, message_block, tool_arguments; the ordinal of a JSON string for *_string kinds
  // tool_arguments; the tool index for tool_description / tool_schema_string; stop index; the block of *_block kinds
  std::size_t call = 0;
  std::size_t start = 0;  // [start, end) in AssembledPrompt::text
  std::size_t end = 0;
};

struct AssembledPrompt {
  std::string text;
  std::vector<PromptField> fields;
};

// `media`, when given, is the reading of the request's attachments: each
// one's text joins the prompt ahead of its message's text (providers read
// attachments first).
AssembledPrompt assemble_prompt(const ChatRequest& request, const media::MediaInspection* media = nullptr);
// Embedding inputs, one field per input (Kind::message_text, message = input index).
AssembledPrompt assemble_inputs(const std::vector<std::string>& inputs);

// Entity type -> number of values masked.
using MaskCounts = std::map<std::string, int>;

// An attachment whose text holds findings: the words to hide (byte ranges of
// its extraction's text) and the placeholders that now stand for them.
struct AttachmentRedaction {
  std::size_t message = 0;
  std::size_t attachment = 0;
  media::Ranges ranges;
  std::vector<std::string> placeholders;  // in the order they appear, without repeats
  std::string masked_text;                // the attachment's text with placeholders (a document sent as text)
};

// `findings` and `persons` hold offsets into prompt.text (sorted, non-overlapping).
// Returns a copy of `request` whose fields have every finding replaced by a
// vault placeholder; a finding that straddles two fields is masked in both.
// Placeholders are handed out in the order a provider's prompt cache reads
// the request (tool definitions, then the system prompt, then the messages
// in order, then stop sequences and pass-through fields), so the same values
// in a resent conversation's earlier turns get the same placeholders in
// every request, whatever later turns add: a cached prefix stays cacheable.
// An attachment's findings are not written into the copy: they are listed
// in `redactions` for the caller to redact the attachment (an asynchronous
// step), and the message's text names their placeholders
// (redaction_note), so the model can refer to what it cannot see.
ChatRequest mask_request(const ChatRequest& request, const AssembledPrompt& prompt,
                         const std::vector<classify::Finding>& findings, const std::vector<classify::Finding>& persons,
                         privacy::Vault& vault, MaskCounts& counts,
                         std::vector<AttachmentRedaction>* redactions = nullptr);

// "[attachment 1 (image) was redacted by the gateway: PERSON_0, EMAIL_0 are
// hidden under black boxes]"
std::string redaction_note(const Attachment& attachment, std::size_t ordinal,
                           const std::vector<std::string>& placeholders);

std::vector<std::string> mask_inputs(const std::vector<std::string>& inputs, const AssembledPrompt& prompt,
                                     const std::vector<classify::Finding>& findings,
                                     const std::vector<classify::Finding>& persons, privacy::Vault& vault,
                                     MaskCounts& counts);

}  // namespace aegis::gateway

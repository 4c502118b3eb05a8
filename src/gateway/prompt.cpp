#include "gateway/prompt.hpp"

#include <algorithm>
#include <cstdint>
#include <tuple>

#include "privacy/mask.hpp"

namespace aegis::gateway {

namespace {

void append_field(AssembledPrompt& prompt, PromptField field, const std::string& text) {
  if (!prompt.text.empty()) prompt.text += '\n';
  field.start = prompt.text.size();
  prompt.text += text;
  field.end = prompt.text.size();
  prompt.fields.push_back(field);
}

// The findings inside [field.start, field.end), clipped and shifted to field offsets.
std::vector<classify::Finding> clip(const std::vector<classify::Finding>& findings, const PromptField& field) {
  std::vector<classify::Finding> out;
  auto it = std::lower_bound(findings.begin(), findings.end(), field.start,
                             [](const classify::Finding& f, std::size_t pos) { return f.end <= pos; });
  for (; it != findings.end() && it->start < field.end; ++it) {
    classify::Finding f = *it;
    f.start = std::max(f.start, field.start) - field.start;
    f.end = std::min(f.end, field.end) - field.start;
    if (f.start < f.end) out.push_back(std::move(f));
  }
  return out;
}

std::string mask_field(const std::string& text, const PromptField& field,
                       const std::vector<classify::Finding>& findings, const std::vector<classify::Finding>& persons,
                       privacy::Vault& vault, MaskCounts& counts) {
  auto field_findings = clip(findings, field);
  auto field_persons = clip(persons, field);
  if (field_findings.empty() && field_persons.empty()) return text;
  auto result = privacy::mask(text, field_findings, field_persons, vault);
  for (const auto& entity : result.entities) {
    if (entity.type != privacy::kLiteralType) ++counts[entity.type];
  }
  return std::move(result.masked);
}

// Calls visit(string&) for every string value (not key) in `value`, depth first, in a fixed order.
template <class Json, class Visit>
void for_each_string(Json& value, Visit&& visit) {
  if (value.is_string()) {
    visit(value.get_string());
  } else if (value.is_array()) {
    for (auto& item : value.get_array()) for_each_string(item, visit);
  } else if (value.is_object()) {
    for (auto& entry : value.get_object()) for_each_string(entry.value(), visit);
  }
}

void append_json_strings(AssembledPrompt& prompt, PromptField::Kind kind, std::size_t owner,
                         const boost::json::value& value) {
  std::size_t ordinal = 0;
  for_each_string(value, [&](const boost::json::string& text) {
    append_field(prompt, {kind, ordinal++, owner}, std::string(text));
  });
}

}  // namespace

AssembledPrompt assemble_prompt(const ChatRequest& request, const media::MediaInspection* media) {
  AssembledPrompt prompt;
  std::size_t bytes = request.system.size();
  for (const auto& m : request.messages) {
    bytes += m.text.size() + 1;
    for (const auto& call : m.tool_calls) bytes += call.arguments_json.size() + 1;
  }
  prompt.text.reserve(bytes + 1);
  if (!request.system_blocks.empty()) {
    // Joined with '\n' as `system` is: the assembled text is the same either way.
    for (std::size_t b = 0; b < request.system_blocks.size(); ++b) {
      append_field(prompt, {PromptField::Kind::system_block, 0, b}, request.system_blocks[b].text);
    }
  } else if (!request.system.empty()) {
    append_field(prompt, {PromptField::Kind::system}, request.system);
  }
  std::size_t next_item = 0;  // media->items are in request order
  for (std::size_t i = 0; i < request.messages.size(); ++i) {
    const auto& message = request.messages[i];
    for (; media && next_item < media->items.size() && media->items[next_item].message == i; ++next_item) {
      const auto& item = media->items[next_item];
      if (item.extraction) {
        append_field(prompt, {PromptField::Kind::attachment_text, i, item.attachment}, item.extraction->text);
      }
      if (const auto& name = message.attachments[item.attachment].filename; !name.empty()) {
        append_field(prompt, {PromptField::Kind::attachment_name, i, item.attachment}, name);
      }
    }
    if (message.blocks.empty()) {
      append_field(prompt, {PromptField::Kind::message_text, i}, message.text);
    } else {
      for (std::size_t b = 0; b < message.blocks.size(); ++b) {
        append_field(prompt, {PromptField::Kind::message_block, i, b}, message.blocks[b].text);
      }
    }
    for (std::size_t c = 0; c < message.tool_calls.size(); ++c) {
      append_field(prompt, {PromptField::Kind::tool_arguments, i, c}, message.tool_calls[c].arguments_json);
    }
  }
  for (std::size_t t = 0; t < request.tools.size(); ++t) {
    append_field(prompt, {PromptField::Kind::tool_description, 0, t}, request.tools[t].description);
    append_json_strings(prompt, PromptField::Kind::tool_schema_string, t, request.tools[t].input_schema);
  }
  for (std::size_t i = 0; i < request.stop.size(); ++i) {
    append_field(prompt, {PromptField::Kind::stop, 0, i}, request.stop[i]);
  }
  if (!request.passthrough.empty()) {
    append_json_strings(prompt, PromptField::Kind::passthrough_string, 0, boost::json::value(request.passthrough));
  }
  return prompt;
}

AssembledPrompt assemble_inputs(const std::vector<std::string>& inputs) {
  AssembledPrompt prompt;
  for (std::size_t i = 0; i < inputs.size(); ++i) append_field(prompt, {PromptField::Kind::message_text, i}, inputs[i]);
  return prompt;
}

namespace {
// Every string value of `value`, in for_each_string order: the field ordinals index it.
std::vector<boost::json::string*> strings_of(boost::json::value& value) {
  std::vector<boost::json::string*> out;
  for_each_string(value, [&](boost::json::string& text) { out.push_back(&text); });
  return out;
}
}  // namespace

std::string redaction_note(const Attachment& attachment, std::size_t ordinal,
                           const std::vector<std::string>& placeholders) {
  std::string note = "[attachment " + std::to_string(ordinal) +
                     (attachment.kind == Attachment::Kind::document ? " (document)" : " (image)") +
                     " was redacted by the gateway: ";
  for (std::size_t i = 0; i < placeholders.size(); ++i) {
    if (i > 0) note += ", ";
    note += placeholders[i];
  }
  note += placeholders.size() == 1 ? " is" : " are";
  note += " hidden under black boxes]";
  return note;
}

ChatRequest mask_request(const ChatRequest& request, const AssembledPrompt& prompt,
                         const std::vector<classify::Finding>& findings, const std::vector<classify::Finding>& persons,
                         privacy::Vault& vault, MaskCounts& counts, std::vector<AttachmentRedaction>* redactions) {
  ChatRequest masked = request;
  boost::json::value passthrough;  // masked pass-through fields, written back at the end
  std::vector<boost::json::string*> passthrough_strings;
  std::size_t schema_tool = SIZE_MAX;  // whose schema strings `schema_strings` holds
  std::vector<boost::json::string*> schema_strings;
  auto mask_json_string = [&](boost::json::string* text, const PromptField& field) {
    *text = mask_field(std::string(*text), field, findings, persons, vault, counts);
  };
  auto is_tool_definition = [](const PromptField& field) {
    return field.kind == PromptField::Kind::tool_description || field.kind == PromptField::Kind::tool_schema_string;
  };
  // Tool definitions first: a provider's cache prefix starts with them.
  std::vector<const PromptField*> order;
  order.reserve(prompt.fields.size());
  for (const auto& field : prompt.fields) {
    if (is_tool_definition(field)) order.push_back(&field);
  }
  for (const auto& field : prompt.fields) {
    if (!is_tool_definition(field)) order.push_back(&field);
  }
  bool system_blocks = false;
  std::vector<bool> message_blocks(request.messages.size(), false);
  std::vector<AttachmentRedaction> found;
  for (const PromptField* f : order) {
    const PromptField& field = *f;
    switch (field.kind) {
      case PromptField::Kind::attachment_text: {
        auto field_findings = clip(findings, field);
        auto field_persons = clip(persons, field);
        if (field_findings.empty() && field_persons.empty()) break;
        const std::string_view text(prompt.text.data() + field.start, field.end - field.start);
        auto result = privacy::mask(text, field_findings, field_persons, vault);
        AttachmentRedaction redaction{field.message, field.call, {}, {}, std::move(result.masked)};
        for (const auto& entity : result.entities) {
          if (entity.type != privacy::kLiteralType) ++counts[entity.type];
          redaction.ranges.emplace_back(entity.start, entity.end);
          if (std::find(redaction.placeholders.begin(), redaction.placeholders.end(), entity.placeholder) ==
              redaction.placeholders.end()) {
            redaction.placeholders.push_back(entity.placeholder);
          }
        }
        found.push_back(std::move(redaction));
        break;
      }
      case PromptField::Kind::tool_description:
        masked.tools[field.call].description =
            mask_field(request.tools[field.call].description, field, findings, persons, vault, counts);
        break;
      case PromptField::Kind::tool_schema_string:
        if (schema_tool != field.call) {
          schema_tool = field.call;
          schema_strings = strings_of(masked.tools[field.call].input_schema);
        }
        mask_json_string(schema_strings[field.message], field);  // same traversal: in range
        break;
      case PromptField::Kind::stop:
        masked.stop[field.call] = mask_field(request.stop[field.call], field, findings, persons, vault, counts);
        break;
      case PromptField::Kind::passthrough_string:
        if (passthrough_strings.empty()) {
          passthrough = boost::json::value(request.passthrough);
          passthrough_strings = strings_of(passthrough);
        }
        mask_json_string(passthrough_strings[field.message], field);
        break;
      case PromptField::Kind::attachment_name: {
        auto& name = masked.messages[field.message].attachments[field.call].filename;
        name = mask_field(name, field, findings, persons, vault, counts);
        break;
      }
      case PromptField::Kind::system:
        masked.system = mask_field(request.system, field, findings, persons, vault, counts);
        break;
      case PromptField::Kind::system_block:
        masked.system_blocks[field.call].text =
            mask_field(request.system_blocks[field.call].text, field, findings, persons, vault, counts);
        system_blocks = true;
        break;
      case PromptField::Kind::message_text:
        masked.messages[field.message].text =
            mask_field(request.messages[field.message].text, field, findings, persons, vault, counts);
        break;
      case PromptField::Kind::message_block:
        masked.messages[field.message].blocks[field.call].text = mask_field(
            request.messages[field.message].blocks[field.call].text, field, findings, persons, vault, counts);
        message_blocks[field.message] = true;
        break;
      case PromptField::Kind::tool_arguments: {
        // Placeholders are plain letters, digits and '_', so JSON text stays valid JSON.
        auto& call = masked.messages[field.message].tool_calls[field.call];
        call.arguments_json = mask_field(request.messages[field.message].tool_calls[field.call].arguments_json, field,
                                         findings, persons, vault, counts);
        break;
      }
    }
  }
  if (!passthrough_strings.empty()) masked.passthrough = std::move(passthrough.as_object());
  // Each redacted attachment is named in its message's text, after the text
  // the client wrote (so the masked prefix of earlier turns is unchanged).
  std::sort(found.begin(), found.end(), [](const AttachmentRedaction& a, const AttachmentRedaction& b) {
    return std::tie(a.message, a.attachment) < std::tie(b.message, b.attachment);
  });
  for (const auto& redaction : found) {
    auto& m = masked.messages[redaction.message];
    const std::string note =
        redaction_note(m.attachments[redaction.attachment], redaction.attachment + 1, redaction.placeholders);
    if (!m.blocks.empty()) {
      m.blocks.push_back(TextBlock{note, boost::json::value()});
      message_blocks[redaction.message] = true;
    } else {
      m.text += m.text.empty() ? note : "\n" + note;
    }
  }
  if (redactions) *redactions = std::move(found);
  // A field kept as blocks: its text is the masked blocks joined again.
  if (system_blocks) masked.system = join_blocks(masked.system_blocks, "\n");
  for (std::size_t i = 0; i < message_blocks.size(); ++i) {
    auto& m = masked.messages[i];
    if (message_blocks[i]) m.text = join_blocks(m.blocks, text_separator(m.role));
  }
  return masked;
}

std::vector<std::string> mask_inputs(const std::vector<std::string>& inputs, const AssembledPrompt& prompt,
                                     const std::vector<classify::Finding>& findings,
                                     const std::vector<classify::Finding>& persons, privacy::Vault& vault,
                                     MaskCounts& counts) {
  std::vector<std::string> out;
  out.reserve(inputs.size());
  for (const auto& field : prompt.fields) {
    out.push_back(mask_field(inputs[field.message], field, findings, persons, vault, counts));
  }
  return out;
}

}  // namespace aegis::gateway

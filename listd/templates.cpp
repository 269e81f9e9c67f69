// templates.cpp - see templates.hpp.
#include "listd/templates.hpp"

#include <kainjow/mustache.hpp>

#include <mutex>
#include <stdexcept>

#include "listd/fsutil.hpp"

namespace listd {

Templates::Templates(std::filesystem::path override_dir, std::filesystem::path per_list_dir)
    : dir_(std::move(override_dir)), per_list_dir_(std::move(per_list_dir)) {
  reload();
}

std::size_t Templates::reload() {
  std::map<std::string, std::string> found;
  std::error_code ec;
  if (!dir_.empty() && std::filesystem::is_directory(dir_, ec)) {
    for (auto it = std::filesystem::recursive_directory_iterator(dir_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      auto rel = std::filesystem::relative(it->path(), dir_).string();
      const std::string suffix = ".mustache";
      if (rel.size() > suffix.size() && rel.compare(rel.size() - suffix.size(), suffix.size(), suffix) == 0)
        rel.resize(rel.size() - suffix.size());
      try {
        found[rel] = read_file(it->path());
      } catch (const std::exception&) {
        // unreadable override: the built-in stays in use
      }
    }
  }
  std::unique_lock lock(mu_);
  overrides_ = std::move(found);
  return overrides_.size();
}

std::string Templates::source(const std::string& name) const {
  {
    std::shared_lock lock(mu_);
    if (auto it = overrides_.find(name); it != overrides_.end()) return it->second;
  }
  if (const char* t = embedded_template(name)) return t;
  throw std::out_of_range("no template named " + name);
}

std::string Templates::render(const std::string& name, const TemplateVars& vars, std::string* error) const {
  if (!per_list_dir_.empty()) {
    auto list = vars.find("list_address");
    // list_address comes from the lists table (validated name@host), never from mail.
    if (list != vars.end() && !list->second.empty() && list->second.find('/') == std::string::npos &&
        list->second.find("..") == std::string::npos) {
      std::error_code ec;
      auto path = per_list_dir_ / list->second / (name + ".mustache");
      if (std::filesystem::is_regular_file(path, ec)) {
        try {
          return render_text(read_file(path), vars, error);
        } catch (const std::exception&) {
          // unreadable: fall back to the site/built-in template
        }
      }
    }
  }
  return render_text(source(name), vars, error);
}

std::string Templates::render_text(const std::string& text, const TemplateVars& vars, std::string* error) {
  kainjow::mustache::mustache tmpl(text);
  if (!tmpl.is_valid()) {
    if (error) *error = tmpl.error_message();
    return {};
  }
  tmpl.set_custom_escape([](const std::string& s) { return s; });
  kainjow::mustache::data d;
  for (auto& [k, v] : vars) {
    if (v.empty())
      d.set(k, false);  // empty values make {{#key}} sections vanish
    else
      d.set(k, v);
  }
  return tmpl.render(d);
}

}  // namespace listd

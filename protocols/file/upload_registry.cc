#include "protocols/file/upload_registry.h"

namespace reactor::file {

UploadRegistry::Claim::~Claim() {
  if (auto table = table_.lock()) table->erase(key_);
}

std::shared_ptr<UploadRegistry::Claim> UploadRegistry::claim(const std::string& key,
                                                             uint64_t owner) {
  auto [position, inserted] = table_->emplace(key, owner);
  if (!inserted) return nullptr;
  // Not make_shared: the constructor is private to the registry.
  return std::shared_ptr<Claim>(new Claim(table_, key, owner));
}

std::optional<uint64_t> UploadRegistry::owner_of(const std::string& key) const {
  auto found = table_->find(key);
  if (found == table_->end()) return std::nullopt;
  return found->second;
}

}  // namespace reactor::file

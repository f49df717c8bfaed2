#include "protocols/file/upload_registry.h"

namespace reactor::file {

UploadRegistry::Claim::~Claim() {
  if (auto table = table_.lock()) {
    std::lock_guard lock(table->mutex);
    table->owners.erase(key_);
  }
}

std::shared_ptr<UploadRegistry::Claim> UploadRegistry::claim(const std::string& key,
                                                             uint64_t owner) {
  {
    std::lock_guard lock(table_->mutex);
    if (!table_->owners.emplace(key, owner).second) return nullptr;
  }
  // Not make_shared: the constructor is private to the registry.
  return std::shared_ptr<Claim>(new Claim(table_, key, owner));
}

std::optional<uint64_t> UploadRegistry::owner_of(const std::string& key) const {
  std::lock_guard lock(table_->mutex);
  auto found = table_->owners.find(key);
  if (found == table_->owners.end()) return std::nullopt;
  return found->second;
}

size_t UploadRegistry::size() const {
  std::lock_guard lock(table_->mutex);
  return table_->owners.size();
}

}  // namespace reactor::file

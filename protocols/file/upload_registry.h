// UploadRegistry: which connection is uploading which path right now, so
// that two connections never write the same unfinished upload (the second
// gets ERROR 4).
//
// A claim is an object: the path stays taken for as long as the claim
// lives -- through the transfer *and* the fsync/rename that follows on a
// worker thread -- and is released wherever the last reference drops,
// even after its connection is gone.
//
// Threading: loop thread only, including the release of a claim (keep the
// last reference out of worker threads; post it back to the loop).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace reactor::file {

class UploadRegistry {
 public:
  class Claim {
   public:
    ~Claim();
    Claim(const Claim&) = delete;
    Claim& operator=(const Claim&) = delete;
    const std::string& key() const { return key_; }
    uint64_t owner() const { return owner_; }

   private:
    friend class UploadRegistry;
    using Table = std::unordered_map<std::string, uint64_t>;
    Claim(std::weak_ptr<Table> table, std::string key, uint64_t owner)
        : table_(std::move(table)), key_(std::move(key)), owner_(owner) {}
    std::weak_ptr<Table> table_;
    std::string key_;
    uint64_t owner_;
  };

  UploadRegistry() : table_(std::make_shared<Claim::Table>()) {}

  // Takes `key` for `owner`; nullptr if anyone (even `owner`) holds it.
  std::shared_ptr<Claim> claim(const std::string& key, uint64_t owner);
  std::optional<uint64_t> owner_of(const std::string& key) const;
  size_t size() const { return table_->size(); }

 private:
  // Shared so a claim outliving the registry (shutdown) releases nothing.
  std::shared_ptr<Claim::Table> table_;
};

}  // namespace reactor::file

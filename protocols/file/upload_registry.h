// UploadRegistry: which connection is uploading which path right now, so
// that two connections never write the same unfinished upload (the second
// gets ERROR 4) -- also when they are served by different loops
// (reactor-fileserver --threads): one registry is shared by the servers of
// every loop.
//
// A claim is an object: the path stays taken for as long as the claim
// lives -- through the transfer *and* the fsync/rename that follows on a
// worker thread -- and is released wherever the last reference drops,
// even after its connection is gone.
//
// Threading: any thread. One mutex guards the table; it is taken once when
// an upload starts and once when it ends, never per byte.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace reactor::file {

class UploadRegistry {
  struct Table {
    std::mutex mutex;
    std::unordered_map<std::string, uint64_t> owners;
  };

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
    Claim(std::weak_ptr<Table> table, std::string key, uint64_t owner)
        : table_(std::move(table)), key_(std::move(key)), owner_(owner) {}
    std::weak_ptr<Table> table_;
    std::string key_;
    uint64_t owner_;
  };

  UploadRegistry() : table_(std::make_shared<Table>()) {}

  // Takes `key` for `owner`; nullptr if anyone (even `owner`) holds it.
  std::shared_ptr<Claim> claim(const std::string& key, uint64_t owner);
  std::optional<uint64_t> owner_of(const std::string& key) const;
  size_t size() const;

 private:
  // Shared so a claim outliving the registry (shutdown) releases nothing.
  std::shared_ptr<Table> table_;
};

}  // namespace reactor::file

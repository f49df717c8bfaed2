#include "protocols/http/output_batch.h"

namespace reactor::http {

OutputBatch::OutputBatch(EventLoop* loop)
    : loop_(loop), self_(std::make_shared<OutputBatch*>(this)) {}

OutputBatch::~OutputBatch() {
  self_.reset();
}

ResponseOutput* OutputBatch::acquire(const ConnectionPtr& connection) {
  std::unique_ptr<ResponseOutput> output;
  if (spare_.empty()) {
    output = std::make_unique<ResponseOutput>();
  } else {
    output = std::move(spare_.back());
    spare_.pop_back();
  }
  ResponseOutput* raw = output.get();
  pending_.push_back(Pending{connection, std::move(output)});
  if (!scheduled_) {
    scheduled_ = true;
    loop_->defer([weak = std::weak_ptr<OutputBatch*>(self_)] {
      if (auto self = weak.lock()) (*self)->flush_all();
    });
  }
  return raw;
}

void OutputBatch::flush_all() {
  scheduled_ = false;
  // Swapped out first, so an acquire() made while we hand over (nothing
  // today: connections queue their callbacks) would go into the next batch.
  flushing_.swap(pending_);
  for (Pending& entry : flushing_) {
    if (release_) release_(entry.connection);
    if (!entry.output->empty()) entry.output->flush_to(*entry.connection);
    entry.output->clear();
    if (spare_.size() < kMaxSpare) spare_.push_back(std::move(entry.output));
  }
  flushing_.clear();
}

}  // namespace reactor::http

#include "accelerator/gradient_reducer.h"

#include <ATen/Functions.h>
#include <torch/utils.h>

#include <map>
#include <utility>

#include "accelerator/distributed.h"

namespace trainer::accelerator {

struct GradientReducer::State {
  /// A parameter's place in its bucket.
  struct Slot {
    at::Tensor parameter;
    size_t bucket = 0;
    int64_t offset = 0;
    bool ready = false;  ///< its gradient is in the bucket for this step
  };
  struct Bucket {
    at::Tensor flat;
    std::vector<size_t> slots;
    size_t missing = 0;  ///< slots not ready yet in this step
    std::unique_ptr<ProcessGroup::Pending> work;
  };

  ProcessGroup* group = nullptr;
  double world_size = 1;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  size_t next_bucket = 0;  ///< the first bucket not started in this step
  bool armed = false;

  void start_ready_buckets() {
    while (next_bucket < buckets.size() && buckets[next_bucket].missing == 0) {
      buckets[next_bucket].work = group->all_reduce_sum_async(buckets[next_bucket].flat);
      ++next_bucket;
    }
  }

  /// Copies `slot`'s gradient into its bucket: the gradient accumulated so far plus `fresh`,
  /// which is what autograd is about to add to it (undefined when there is none).
  void fill(Slot& slot, const at::Tensor& fresh) {
    torch::NoGradGuard no_grad;
    Bucket& bucket = buckets[slot.bucket];
    at::Tensor view = bucket.flat.slice(0, slot.offset, slot.offset + slot.parameter.numel());
    const at::Tensor& accumulated = slot.parameter.grad();
    if (accumulated.defined() && fresh.defined()) {
      view.copy_(accumulated.reshape({-1})).add_(fresh.reshape({-1}));
    } else if (accumulated.defined() || fresh.defined()) {
      view.copy_((accumulated.defined() ? accumulated : fresh).reshape({-1}));
    } else {
      view.zero_();
    }
    slot.ready = true;
    bucket.missing -= 1;
  }

  void on_gradient(size_t index, const at::Tensor& gradient) {
    Slot& slot = slots[index];
    if (!armed || slot.ready) return;
    fill(slot, gradient);
    start_ready_buckets();
  }
};

GradientReducer::GradientReducer(ProcessGroup& group, const std::vector<at::Tensor>& parameters,
                                 int64_t bucket_cap_bytes)
    : state_(std::make_shared<State>()) {
  state_->group = &group;
  state_->world_size = static_cast<double>(group.world_size());

  // Last parameter first, one open bucket per dtype.
  std::map<at::ScalarType, size_t> open;
  std::vector<int64_t> sizes;
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    const at::Tensor& parameter = *it;
    if (!parameter.requires_grad()) continue;
    const int64_t bytes = parameter.numel() * static_cast<int64_t>(parameter.element_size());
    auto bucket = open.find(parameter.scalar_type());
    if (bucket == open.end() || (sizes[bucket->second] > 0 && sizes[bucket->second] + bytes > bucket_cap_bytes)) {
      state_->buckets.emplace_back();
      sizes.push_back(0);
      bucket = open.insert_or_assign(parameter.scalar_type(), state_->buckets.size() - 1).first;
    }
    const size_t index = state_->slots.size();
    State::Bucket& target = state_->buckets[bucket->second];
    state_->slots.push_back({parameter, bucket->second, sizes[bucket->second] / parameter.element_size(), false});
    target.slots.push_back(index);
    sizes[bucket->second] += bytes;
  }
  for (size_t b = 0; b < state_->buckets.size(); ++b) {
    State::Bucket& bucket = state_->buckets[b];
    const at::Tensor& first = state_->slots[bucket.slots.front()].parameter;
    bucket.flat = at::zeros({sizes[b] / static_cast<int64_t>(first.element_size())}, first.options());
    bucket.missing = bucket.slots.size();
  }

  // The hooks hold the state weakly: each parameter keeps its hook, and the state keeps
  // the parameters, so a strong reference would keep both alive forever.
  const std::weak_ptr<State> weak = state_;
  for (size_t index = 0; index < state_->slots.size(); ++index) {
    at::Tensor parameter = state_->slots[index].parameter;
    parameter.register_hook([weak, index](const at::Tensor& gradient) {
      if (const std::shared_ptr<State> state = weak.lock()) state->on_gradient(index, gradient);
    });
  }
}

GradientReducer::~GradientReducer() = default;

int64_t GradientReducer::num_buckets() const { return static_cast<int64_t>(state_->buckets.size()); }

int64_t GradientReducer::started_buckets() const { return static_cast<int64_t>(state_->next_bucket); }

void GradientReducer::arm() { state_->armed = true; }

void GradientReducer::finish() {
  State& state = *state_;
  // Buckets whose gradients did not all arrive (a parameter unused by this batch, or a
  // batch skipped for a non-finite loss) take the gradients as they are.
  for (size_t b = state.next_bucket; b < state.buckets.size(); ++b) {
    for (const size_t index : state.buckets[b].slots) {
      if (!state.slots[index].ready) state.fill(state.slots[index], at::Tensor());
    }
  }
  state.start_ready_buckets();

  torch::NoGradGuard no_grad;
  for (State::Bucket& bucket : state.buckets) {
    bucket.work->wait();
    bucket.work.reset();
    bucket.flat.div_(state.world_size);
    for (const size_t index : bucket.slots) {
      State::Slot& slot = state.slots[index];
      const at::Tensor mean = bucket.flat.slice(0, slot.offset, slot.offset + slot.parameter.numel());
      if (!slot.parameter.grad().defined()) slot.parameter.mutable_grad() = at::zeros_like(slot.parameter);
      slot.parameter.mutable_grad().copy_(mean.view_as(slot.parameter));
      slot.ready = false;
    }
    bucket.missing = bucket.slots.size();
  }
  state.next_bucket = 0;
  state.armed = false;
}

}  // namespace trainer::accelerator

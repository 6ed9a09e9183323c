// A model loaded from a TorchScript file written by `torch.jit.save` in Python and
// trained in C++. The module's own training_step / validation_step decide the loss
// and metrics when it defines them; otherwise forward plus the task's loss do.

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>

#include <filesystem>
#include <sstream>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "models/model.h"

namespace trainer::models {
namespace {

struct TorchScriptArgs : config::Args {
  std::string path;
  std::string task = "auto";

  void visit(config::FieldVisitor& v) override {
    v.field("path", path, {"TorchScript file written by torch.jit.save (or torch.jit.script(m).save).", {}, {}, {},
                           true});
    v.field("task", task,
            {"Task that decides the loss when the module has no training_step, and the derived metrics; auto takes "
             "the dataset's task.",
             {"auto", "classification", "regression", "next_token"}});
  }
};

Task resolve_task(const std::string& name, Task data_task) {
  if (name == "classification") return Task::classification;
  if (name == "regression") return Task::regression;
  if (name == "next_token") return Task::next_token;
  return data_task;
}

torch::jit::Module load_module(const std::string& path) {
  if (path.empty()) {
    throw UsageError("model 'torchscript' needs model.init_args.path: a file written by torch.jit.save in Python");
  }
  if (!std::filesystem::is_regular_file(path)) {
    throw UsageError("model.init_args.path: TorchScript file '" + path + "' not found");
  }
  try {
    return torch::jit::load(path, c10::Device(c10::kCPU));
  } catch (const c10::Error& error) {
    throw UsageError("model.init_args.path: '" + path + "' is not a TorchScript file that torch::jit::load can read: " +
                     error.what_without_backtrace());
  }
}

class TorchScriptModel : public Model {
 public:
  TorchScriptModel(const TorchScriptArgs& args, const data::DataSpec& spec)
      : Model(resolve_task(args.task, spec.task)), path_(args.path), module_(load_module(args.path)) {
    has_forward_ = module_.find_method("forward").has_value();
    has_training_step_ = module_.find_method("training_step").has_value();
    has_validation_step_ = module_.find_method("validation_step").has_value();
    if (!has_forward_ && !has_training_step_) {
      throw UsageError("TorchScript model '" + path_ + "' has neither forward nor training_step; export one of them " +
                       "(@torch.jit.export on training_step)");
    }
    mirror_tensors();
    module_.train(is_training());
  }

  at::Tensor forward(const at::Tensor& inputs) override {
    const c10::IValue output = call("forward", {inputs});
    if (!output.isTensor()) {
      throw UsageError("TorchScript model '" + path_ + "': forward returned " + output.tagKind() +
                       "; it must return one tensor of outputs");
    }
    return output.toTensor();
  }

  /// In training mode calls training_step; in evaluation mode validation_step, else
  /// training_step. Without either, runs forward and the task's loss.
  StepOutput step(const data::Batch& batch, bool with_metrics) override {
    const char* method = nullptr;
    if (is_training()) {
      if (has_training_step_) method = "training_step";
    } else if (has_validation_step_) {
      method = "validation_step";
    } else if (has_training_step_) {
      method = "training_step";
    }
    if (method == nullptr) return Model::step(batch, with_metrics);

    const c10::IValue batch_tuple = c10::ivalue::Tuple::create({batch.inputs, batch.targets});
    return read_step_result(method, call(method, {batch_tuple}), batch.size(), with_metrics);
  }

  void train(bool on) override {
    Model::train(on);
    module_.train(on);
  }

  /// Saves the TorchScript module, with the trained parameters, in evaluation mode.
  void save_torchscript(const std::string& path) override {
    const bool was_training = is_training();
    module_.train(false);
    std::ostringstream bytes;
    module_.save(bytes);
    module_.train(was_training);
    write_file_atomic(path, bytes.str());
  }

 private:
  /// Registers every parameter and buffer of the TorchScript module, under the same
  /// dotted name, in a tree of plain Modules. The tensors are shared, not copied, so
  /// the optimizer, `to()`, checkpoints and exports all see one set of weights.
  // NOTE: the mirror keeps the tensor each name had at load time. A script that rebinds
  // an attribute (`self.x = self.x + 1`) rather than updating it in place makes it stale.
  void mirror_tensors() {
    for (const auto& item : module_.named_parameters(/*recurse=*/true)) {
      std::string leaf;
      torch::nn::Module& owner = owner_of(item.name, leaf);
      owner.register_parameter(leaf, item.value, item.value.requires_grad());
    }
    for (const auto& item : module_.named_buffers(/*recurse=*/true)) {
      std::string leaf;
      owner_of(item.name, leaf).register_buffer(leaf, item.value);
    }
  }

  /// Returns the module that owns `dotted_name` ("a.b.weight"), creating the path of
  /// empty submodules on the way, and sets `leaf` to the last part ("weight").
  torch::nn::Module& owner_of(const std::string& dotted_name, std::string& leaf) {
    torch::nn::Module* owner = this;
    size_t start = 0;
    for (size_t dot = dotted_name.find('.'); dot != std::string::npos; dot = dotted_name.find('.', start)) {
      const std::string part = dotted_name.substr(start, dot - start);
      const auto children = owner->named_children();
      const std::shared_ptr<torch::nn::Module>* child = children.find(part);
      owner = child != nullptr ? child->get() : owner->register_module(part, std::make_shared<torch::nn::Module>()).get();
      start = dot + 1;
    }
    leaf = dotted_name.substr(start);
    return *owner;
  }

  /// Calls a method of the module and turns LibTorch errors into a UsageError that
  /// names the file and the method, because the module's code is the user's.
  c10::IValue call(const char* method, std::vector<c10::IValue> inputs) {
    try {
      return module_.get_method(method)(std::move(inputs));
    } catch (const c10::Error& error) {
      throw UsageError("TorchScript model '" + path_ + "': " + method + " failed: " + error.what_without_backtrace());
    } catch (const std::runtime_error& error) {
      // The interpreter reports errors inside the script (shape mismatches, `raise`)
      // as std::runtime_error, with the TorchScript traceback in the message.
      throw UsageError("TorchScript model '" + path_ + "': " + method + " failed: " + error.what());
    }
  }

  /// Accepts a loss tensor, a (loss, {name: value}) tuple, or a {"loss": loss, name: value} dict.
  StepOutput read_step_result(const char* method, const c10::IValue& result, int64_t batch_size,
                              bool with_metrics) const {
    at::Tensor loss;
    c10::IValue metrics;
    if (result.isTensor()) {
      loss = result.toTensor();
    } else if (result.isTuple() && result.toTupleRef().elements().size() == 2 &&
               result.toTupleRef().elements()[0].isTensor() && result.toTupleRef().elements()[1].isGenericDict()) {
      loss = result.toTupleRef().elements()[0].toTensor();
      metrics = result.toTupleRef().elements()[1];
    } else if (result.isGenericDict() && result.toGenericDict().contains("loss") &&
               result.toGenericDict().at("loss").isTensor()) {
      loss = result.toGenericDict().at("loss").toTensor();
      metrics = result;
    } else {
      throw UsageError("TorchScript model '" + path_ + "': " + method + " returned " + result.tagKind() +
                       "; return a loss tensor, a (loss, metrics dict) tuple, or a dict with a 'loss' entry");
    }
    if (loss.numel() != 1) {
      throw UsageError("TorchScript model '" + path_ + "': " + method + " returned a loss of shape " +
                       c10::str(loss.sizes()) + "; it must be one number, the batch mean");
    }

    StepOutput out;
    out.loss = loss.reshape({});
    out.count = batch_size;
    if (!with_metrics) return out;
    // The module returns batch means; the Trainer wants sums over `count` samples.
    const double count = static_cast<double>(batch_size);
    out.metric_sums.emplace_back("loss", out.loss.detach().mul(count));
    if (metrics.isNone()) return out;
    for (const auto& entry : metrics.toGenericDict()) {
      const std::string name = entry.key().isString() ? entry.key().toStringRef() : "";
      if (name.empty() || name == "loss") continue;
      const c10::IValue& value = entry.value();
      if (!value.isTensor() && !value.isDouble() && !value.isInt()) {
        throw UsageError("TorchScript model '" + path_ + "': " + method + " returned metric '" + name + "' as " +
                         value.tagKind() + "; metrics must be numbers or one-element tensors");
      }
      const at::Tensor mean = value.isTensor() ? value.toTensor().detach().to(at::kFloat).reshape({})
                                               : at::scalar_tensor(value.toScalar(), at::kFloat);
      out.metric_sums.emplace_back(name, mean.mul(count));
    }
    return out;
  }

  std::string path_;
  torch::jit::Module module_;
  bool has_forward_ = false;
  bool has_training_step_ = false;
  bool has_validation_step_ = false;
};

}  // namespace

void register_torchscript(ModelRegistry& registry) {
  registry.add<TorchScriptArgs>("torchscript", "A TorchScript module from Python (torch.jit.save), trained in C++",
                                [](const TorchScriptArgs& args, const data::DataSpec& spec) -> std::shared_ptr<Model> {
                                  return std::make_shared<TorchScriptModel>(args, spec);
                                });
}

}  // namespace trainer::models

// ModelCheckpoint: saves checkpoints on a schedule and keeps the best k by a monitored metric.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/errors.h"
#include "logging/metrics.h"
#include "trainer/callbacks/callback.h"

namespace trainer::callbacks {
namespace {

struct ModelCheckpointArgs : config::Args {
  std::string monitor;
  std::string mode = "min";
  int64_t save_top_k = 1;
  bool save_last = true;
  int64_t every_n_train_steps = 0;
  int64_t every_n_epochs = 1;
  std::string filename = "epoch={epoch}-step={step}";

  void visit(config::FieldVisitor& v) override {
    v.field("monitor", monitor, {"Metric that ranks checkpoints, e.g. val/loss; empty keeps the newest."});
    v.field("mode", mode, {"Whether lower ('min') or higher ('max') monitored values are better.", {"min", "max"}});
    v.field("save_top_k", save_top_k,
            {"Checkpoints to keep: the k best by monitor (the k newest without one); -1 keeps all, 0 none.", {}, -1});
    v.field("save_last", save_last, {"Also write last.ckpt at every save."});
    v.field("every_n_train_steps", every_n_train_steps, {"Save every N optimizer steps; 0 is off.", {}, 0});
    v.field("every_n_epochs", every_n_epochs,
            {"Save at the end of every N-th epoch; 0 is off. Ignored when every_n_train_steps is set.", {}, 0});
    v.field("filename", filename,
            {"File name template without .ckpt: {epoch}, {step} and metrics such as {val/loss:.4f}."});
  }
};

class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(const ModelCheckpointArgs& args)
      : args_(args), higher_is_better_(args.monitor.empty() || args.mode == "max") {}

  void on_train_step_end(CallbackContext& context) override {
    if (args_.every_n_train_steps > 0 && context.global_step() % args_.every_n_train_steps == 0) save(context);
  }

  void on_train_epoch_end(CallbackContext& context) override {
    if (args_.every_n_train_steps == 0 && args_.every_n_epochs > 0 &&
        (context.epoch() + 1) % args_.every_n_epochs == 0) {
      save(context);
    }
  }

  CallbackState state() const override {
    std::ostringstream kept;
    kept.precision(17);
    for (const auto& [path, score] : kept_) kept << score << ' ' << path << '\n';
    return {{"kept", kept.str()}, {"best_path", best_path_}};
  }

  void load_state(const CallbackState& state) override {
    kept_.clear();
    std::istringstream kept(state.count("kept") ? state.at("kept") : "");
    double score = 0;
    std::string path;
    while (kept >> score && std::getline(kept >> std::ws, path)) kept_.emplace_back(path, score);
    best_path_ = state.count("best_path") ? state.at("best_path") : "";
  }

  std::optional<BestCheckpoint> best_checkpoint() const override {
    if (best_path_.empty()) return std::nullopt;
    return BestCheckpoint{best_path_, args_.monitor, best_score()};
  }

  std::string summary() const override {
    if (best_path_.empty()) return "";
    return "best checkpoint " + best_path_ + (args_.monitor.empty() ? "" : " (" + args_.monitor + "=" +
                                                                             logging::format_metric(best_score()) + ")");
  }

 private:
  /// NaN ranks below every number, so it never displaces a real score.
  bool better(double a, double b) const {
    if (std::isnan(a)) return false;
    if (std::isnan(b)) return true;
    return higher_is_better_ ? a > b : a < b;
  }

  double best_score() const {
    for (const auto& [path, score] : kept_) {
      if (path == best_path_) return score;
    }
    return std::nan("");
  }

  void save(CallbackContext& context) {
    const std::filesystem::path dir = context.checkpoint_dir();
    // Runs that write nothing and ddp ranks other than 0 have no checkpoint folder. An
    // eviction there would delete a path relative to the working folder, so skip it all.
    if (dir.empty()) return;
    const std::string last = (dir / "last.ckpt").string();
    if (args_.save_top_k != 0) save_ranked(context, dir);
    if (args_.save_last) context.save_checkpoint(last);
  }

  void save_ranked(CallbackContext& context, const std::filesystem::path& dir) {
    double score = std::nan("");
    if (!args_.monitor.empty()) {
      const auto it = context.metrics().find(args_.monitor);
      if (it == context.metrics().end()) {
        spdlog::warn("model_checkpoint: monitored metric '{}' has not been logged yet at step {}; saving without "
                     "a score", args_.monitor, context.global_step());
      } else {
        score = it->second.value;
        if (it->second.step != context.global_step()) {
          spdlog::info("model_checkpoint: {}={} comes from step {} (now step {})", args_.monitor,
                       logging::format_metric(score), it->second.step, context.global_step());
        }
      }
    } else {
      score = static_cast<double>(context.global_step());  // without a monitor, newer is better
    }

    // Decide before writing whether this checkpoint enters the kept set.
    const bool has_room = args_.save_top_k < 0 || static_cast<int64_t>(kept_.size()) < args_.save_top_k;
    auto worst = std::min_element(kept_.begin(), kept_.end(), [this](const auto& a, const auto& b) {
      return better(b.second, a.second);
    });
    const bool beats_worst = worst != kept_.end() && better(score, worst->second);
    if (!has_room && !beats_worst) return;

    const std::string path =
        (dir / (format_checkpoint_name(args_.filename, context.epoch(), context.global_step(), context.metrics()) +
                ".ckpt"))
            .string();
    std::string evicted;
    if (!has_room) {
      evicted = worst->first;
      kept_.erase(worst);
    }
    kept_.erase(std::remove_if(kept_.begin(), kept_.end(), [&](const auto& item) { return item.first == path; }),
                kept_.end());
    kept_.emplace_back(path, score);
    const auto best = std::min_element(kept_.begin(), kept_.end(), [this](const auto& a, const auto& b) {
      return better(a.second, b.second);
    });
    best_path_ = best->first;

    // The state above is final before writing, so the checkpoint records itself as kept.
    context.save_checkpoint(path);
    if (!evicted.empty() && evicted != path) {
      std::error_code ignored;
      std::filesystem::remove(evicted, ignored);
    }
  }

  ModelCheckpointArgs args_;
  bool higher_is_better_;  ///< without a monitor the score is the step, and newer is better
  std::vector<std::pair<std::string, double>> kept_;  ///< (path, score) of the kept checkpoints
  std::string best_path_;
};

}  // namespace

void register_model_checkpoint(CallbackRegistry& registry) {
  registry.add<ModelCheckpointArgs>("model_checkpoint", "Save checkpoints and keep the best k by a metric",
                                    [](const ModelCheckpointArgs& args) -> std::unique_ptr<Callback> {
                                      return std::make_unique<ModelCheckpoint>(args);
                                    });
}

}  // namespace trainer::callbacks

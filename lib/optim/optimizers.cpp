#include "optim/optimizers.h"

#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include "core/errors.h"

namespace trainer::optim {
namespace {

using OptimizerPtr = std::unique_ptr<torch::optim::Optimizer>;

struct SgdArgs : config::Args {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;

  void visit(config::FieldVisitor& v) override {
    v.field("lr", lr, {"Learning rate.", {}, 0.0});
    v.field("momentum", momentum, {"Momentum factor.", {}, 0.0});
    v.field("dampening", dampening, {"Dampening of the momentum.", {}, 0.0});
    v.field("weight_decay", weight_decay, {"L2 penalty added to the gradient.", {}, 0.0});
    v.field("nesterov", nesterov, {"Use Nesterov momentum (needs momentum > 0 and dampening 0)."});
  }
};

/// Adam and AdamW share their arguments; only the default weight decay differs.
struct AdamArgs : config::Args {
  double lr = 1e-3;
  std::vector<double> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;

  void visit(config::FieldVisitor& v) override {
    v.field("lr", lr, {"Learning rate.", {}, 0.0});
    v.field("betas", betas, {"Decay rates of the first and second moment estimates: [beta1, beta2].", {}, 0.0, 1.0});
    v.field("eps", eps, {"Term added to the denominator for numerical stability.", {}, 0.0});
    v.field("weight_decay", weight_decay, {"Weight decay (L2 penalty for adam, decoupled for adamw).", {}, 0.0});
    v.field("amsgrad", amsgrad, {"Use the AMSGrad variant."});
  }
};

struct AdamWArgs : AdamArgs {
  AdamWArgs() { weight_decay = 0.01; }
};

struct RmspropArgs : config::Args {
  double lr = 0.01;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;

  void visit(config::FieldVisitor& v) override {
    v.field("lr", lr, {"Learning rate.", {}, 0.0});
    v.field("alpha", alpha, {"Smoothing constant of the squared-gradient average.", {}, 0.0, 1.0});
    v.field("eps", eps, {"Term added to the denominator for numerical stability.", {}, 0.0});
    v.field("weight_decay", weight_decay, {"L2 penalty added to the gradient.", {}, 0.0});
    v.field("momentum", momentum, {"Momentum factor.", {}, 0.0});
    v.field("centered", centered, {"Normalise by an estimate of the gradient's variance."});
  }
};

struct AdagradArgs : config::Args {
  double lr = 0.01;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;

  void visit(config::FieldVisitor& v) override {
    v.field("lr", lr, {"Learning rate.", {}, 0.0});
    v.field("lr_decay", lr_decay, {"Learning-rate decay.", {}, 0.0});
    v.field("weight_decay", weight_decay, {"L2 penalty added to the gradient.", {}, 0.0});
    v.field("initial_accumulator_value", initial_accumulator_value, {"Start value of the accumulators.", {}, 0.0});
    v.field("eps", eps, {"Term added to the denominator for numerical stability.", {}, 0.0});
  }
};

std::tuple<double, double> two_betas(const std::vector<double>& betas) {
  if (betas.size() != 2) {
    throw UsageError("optimizer.init_args.betas needs two values [beta1, beta2], got " +
                     std::to_string(betas.size()));
  }
  return {betas[0], betas[1]};
}

}  // namespace

OptimizerRegistry& optimizer_registry() {
  static OptimizerRegistry registry = [] {
    OptimizerRegistry built_in;
    built_in.add<SgdArgs>("sgd", "Stochastic gradient descent with optional (Nesterov) momentum",
                          [](const SgdArgs& args, const std::vector<at::Tensor>& params) -> OptimizerPtr {
                            if (args.nesterov && (args.momentum <= 0 || args.dampening != 0)) {
                              throw UsageError("optimizer 'sgd': nesterov needs momentum > 0 and dampening 0");
                            }
                            return std::make_unique<torch::optim::SGD>(
                                params, torch::optim::SGDOptions(args.lr)
                                            .momentum(args.momentum)
                                            .dampening(args.dampening)
                                            .weight_decay(args.weight_decay)
                                            .nesterov(args.nesterov));
                          });
    built_in.add<AdamArgs>("adam", "Adam", [](const AdamArgs& args, const std::vector<at::Tensor>& params) -> OptimizerPtr {
      return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(args.lr)
                                                              .betas(two_betas(args.betas))
                                                              .eps(args.eps)
                                                              .weight_decay(args.weight_decay)
                                                              .amsgrad(args.amsgrad));
    });
    built_in.add<AdamWArgs>("adamw", "AdamW: Adam with decoupled weight decay",
                            [](const AdamWArgs& args, const std::vector<at::Tensor>& params) -> OptimizerPtr {
                              return std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(args.lr)
                                                                                       .betas(two_betas(args.betas))
                                                                                       .eps(args.eps)
                                                                                       .weight_decay(args.weight_decay)
                                                                                       .amsgrad(args.amsgrad));
                            });
    built_in.add<RmspropArgs>("rmsprop", "RMSprop", [](const RmspropArgs& args, const std::vector<at::Tensor>& params) -> OptimizerPtr {
      return std::make_unique<torch::optim::RMSprop>(params, torch::optim::RMSpropOptions(args.lr)
                                                                 .alpha(args.alpha)
                                                                 .eps(args.eps)
                                                                 .weight_decay(args.weight_decay)
                                                                 .momentum(args.momentum)
                                                                 .centered(args.centered));
    });
    built_in.add<AdagradArgs>("adagrad", "Adagrad", [](const AdagradArgs& args, const std::vector<at::Tensor>& params) -> OptimizerPtr {
      return std::make_unique<torch::optim::Adagrad>(params, torch::optim::AdagradOptions(args.lr)
                                                                 .lr_decay(args.lr_decay)
                                                                 .weight_decay(args.weight_decay)
                                                                 .initial_accumulator_value(args.initial_accumulator_value)
                                                                 .eps(args.eps));
    });
    return built_in;
  }();
  return registry;
}

}  // namespace trainer::optim

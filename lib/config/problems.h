#pragma once
/// Config problems gathered during loading, reported together in one ConfigError.

#include <string>
#include <vector>

#include "config/node.h"
#include "core/errors.h"

namespace trainer::config {

struct Problem {
  Origin origin;
  std::string key;  ///< full dotted path as the user would write it, e.g. "trainer.max_epochs"
  std::string message;

  /// "file:line:column: key: message".
  std::string describe() const;
};

/// One or more config problems; `what()` lists them all, one per line.
class ConfigError : public Error {
 public:
  explicit ConfigError(std::vector<Problem> problems);
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  std::vector<Problem> problems_;
};

/// Returns the candidate closest to `word` by edit distance, or "" when none is close.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

/// Returns "; did you mean 'x'?" for the closest candidate, or "" when none is close.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

/// Joins names as "'a', 'b', 'c'".
std::string quoted_list(const std::vector<std::string>& names);

}  // namespace trainer::config

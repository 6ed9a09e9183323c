#include "config/problems.h"

#include <algorithm>

namespace trainer::config {
namespace {

std::string join_problems(const std::vector<Problem>& problems) {
  std::string text;
  if (problems.size() > 1) {
    text = std::to_string(problems.size()) + " config problems:";
  }
  for (const Problem& problem : problems) {
    if (!text.empty()) text += "\n  ";
    text += problem.describe();
  }
  return text;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string Origin::describe() const {
  if (line == 0) return source;
  return source + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string Problem::describe() const {
  std::string text = origin.describe();
  if (!text.empty()) text += ": ";
  if (!key.empty()) text += key + ": ";
  return text + message;
}

ConfigError::ConfigError(std::vector<Problem> problems)
    : Error(ExitCode::usage, join_problems(problems)), problems_(std::move(problems)) {}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::string::npos;
  for (const std::string& candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  // Accept roughly one typo per three characters; farther matches are noise.
  const size_t allowed = std::max<size_t>(1, word.size() / 3);
  return best_distance <= allowed ? best : std::string();
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string match = closest_match(word, candidates);
  return match.empty() ? std::string() : "; did you mean '" + match + "'?";
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) {
    if (!text.empty()) text += ", ";
    text += "'" + name + "'";
  }
  return text;
}

}  // namespace trainer::config

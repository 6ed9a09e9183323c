#pragma once
/// Parsing of durations written as "DD:HH:MM:SS" or as seconds.

#include <optional>
#include <string>

namespace trainer::config {

/// Returns the seconds in "DD:HH:MM:SS" (fewer fields allowed: "MM:SS", "HH:MM:SS") or a
/// plain number of seconds; nullopt when the text is neither. An empty text is nullopt.
std::optional<double> parse_duration_seconds(const std::string& text);

}  // namespace trainer::config

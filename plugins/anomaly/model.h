#pragma once
// Parameters of the streaming anomaly detector and their text model file.
//
// Model file format (version 1), one setting per line:
//
//   # comment
//   version = 1
//   threshold = 0.5
//
// Blank lines and lines starting with '#' are ignored; keys are the field
// names below; every key is optional except `version`; an unknown key, a
// repeated key, a value that does not parse or is out of range is an error
// reported as "FILE:LINE: message".
#include <cstdint>
#include <string>
#include <string_view>

namespace uplink::anomaly {

inline constexpr int kModelVersion = 1;
inline constexpr int kMaxGrids = 8;
inline constexpr int kMaxLevels = 8;
inline constexpr int kMaxTodSlots = 1440;

struct Params {
  // Decision.
  double threshold = 0.525;     // label = score >= threshold
  int warmup = 150;            // rows scored 0 at the start of a stream (learning)
  int cooldown = 30;           // rows after an alarm whose score is capped below threshold
  double cooldown_frac = 0.02; // ... or this fraction of the rows seen so far, if longer

  // Novelty (see detector.h).
  double squash = 30;          // > 0: bin asinh((x - median) / (squash * MAD)) of the warm-up
  int bins = 44;               // grid bins across the warm-up range
  double quantum = 2;          // value bins at least this many data resolutions wide (0: off)
  int grids = 4;               // grids shifted by step/grids from each other (<= kMaxGrids)
  int levels = 6;              // grid resolutions (step x1, x2, x4, ...) (<= kMaxLevels)
  int ahead = 7;               // coarser levels learned beyond the one read now
  double interior_weight = 0.7; // value novelty inside the range seen so far counts this much
  double smooth = 64;          // rows; EWMA horizon of the smoothed channel
  double smooth_weight = 0.9;   // 0: smoothed channel off
  int tod_slots = 24;          // time-of-day slots per day; 0: off
  int tod_coarse = 2;          // time-of-day channel bins are this many value bins wide
  double tod_weight = 0.7;
  int tod_days = 1;            // a slot's novelty counts from this many days after its first sample
  int forget = 8000;           // rows per epoch: contexts unseen for 1-2 epochs are forgotten; 0: never
  double rate_horizon = 2000;  // rows; EWMA of the novelty score
  double rate_gain = 60;       // novelty is divided by (1 + rate_gain * that rate)
};

struct ModelError {
  int line = 0;           // 0: not tied to a line
  std::string message;
};

// Parses model text; `params` starts from the compiled-in defaults.
// Returns true on success, else fills `err`.
bool parse_model(std::string_view text, Params& params, ModelError& err);
// Reads and parses a model file; on error `err_text` is "FILE:LINE: message".
bool load_model(const std::string& path, Params& params, std::string& err_text);
// Writes the parameters back in model-file syntax.
std::string format_model(const Params& p);

}  // namespace uplink::anomaly

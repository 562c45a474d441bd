#pragma once
// A seeded random stream that gives the same numbers on every platform and standard library
// (std::uniform_int_distribution does not), so a seed replays a game exactly.
#include <cstdint>

namespace p2p::workload {

// SplitMix64's finalizer: a bijective mix, used to derive independent seeds.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The seed of stream `purpose` of item `index` under `seed`: distinct streams never overlap in
// practice, and one game's randomness does not depend on how many games came before it.
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index,
                                    std::uint64_t purpose) {
  return mix64(mix64(seed ^ mix64(index)) + purpose);
}

// xoshiro256** (Blackman and Vigna), seeded through SplitMix64.
class rng {
 public:
  explicit rng(std::uint64_t seed = 0) { reseed(seed); }

  void reseed(std::uint64_t seed) {
    for (auto& word : state_) {
      seed += 0x9e3779b97f4a7c15ULL;
      word = mix64(seed - 0x9e3779b97f4a7c15ULL);
    }
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound), bound > 0: Lemire's multiply-and-reject on 32 bits.
  std::uint32_t below(std::uint32_t bound) {
    std::uint64_t product = (next() >> 32) * bound;
    auto low = static_cast<std::uint32_t>(product);
    if (low < bound) {
      const std::uint32_t threshold = (0u - bound) % bound;
      while (low < threshold) {
        product = (next() >> 32) * bound;
        low = static_cast<std::uint32_t>(product);
      }
    }
    return static_cast<std::uint32_t>(product >> 32);
  }

  // Uniform in [0, 1) with 53 random bits.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4];
};

}  // namespace p2p::workload

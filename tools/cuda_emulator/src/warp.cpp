// The warp intrinsics of the emulator as collectives of the scheduler (emu/scheduler.h): each
// lane arrives with its value; the last lane of the mask to arrive computes every lane's result
// (the functions *_done below, one per operation so that lanes meeting at different operations
// are reported). The source-lane rules are CUDA's (Programming Guide, "Warp Shuffle
// Functions"); a lane reading from a lane that takes no part gets all one bits.
#include <cstdint>
#include <string>

#include "emu/device.h"

namespace emu::detail {
namespace {

struct ShuffleIn {
  uint64_t bits;
  int bytes;
};

uint64_t poison(int bytes) { return bytes >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * bytes)) - 1; }

template <int kMode>
void shuffle_done(const WarpArrival* const* lanes, unsigned) {
  for (int l = 0; l < 32; ++l) {
    if (!lanes[l]) continue;
    const WarpArrival& a = *lanes[l];
    const int width = a.width;
    if (width < 1 || width > 32 || (width & (width - 1)))
      fail("warp shuffle with width " + std::to_string(width) + " (must be 1, 2, 4, 8, 16 or 32)");
    const int base = l & ~(width - 1);
    int src = l;
    switch (kMode) {
      case kShflIdx: src = base + (a.arg & (width - 1)); break;
      case kShflUp: src = (a.arg >= 0 && l - base >= a.arg) ? l - a.arg : l; break;
      case kShflDown: src = (a.arg >= 0 && l - base + a.arg < width) ? l + a.arg : l; break;
      case kShflXor: {
        const int j = l ^ a.arg;
        src = (j >= 0 && j <= base + width - 1) ? j : l;
        break;
      }
    }
    const auto* own = static_cast<const ShuffleIn*>(a.in);
    const WarpArrival* from = (src >= 0 && src < 32) ? lanes[src] : nullptr;
    *static_cast<uint64_t*>(a.out) =
        from ? static_cast<const ShuffleIn*>(from->in)->bits : poison(own->bytes);
  }
}

struct VoteOut {
  unsigned bits, group;
};
void vote_done(const WarpArrival* const* lanes, unsigned group) {
  unsigned bits = 0;
  for (int l = 0; l < 32; ++l)
    if (lanes[l] && *static_cast<const int*>(lanes[l]->in)) bits |= 1u << l;
  for (int l = 0; l < 32; ++l)
    if (lanes[l]) *static_cast<VoteOut*>(lanes[l]->out) = VoteOut{bits, group};
}

void match_any_done(const WarpArrival* const* lanes, unsigned) {
  for (int l = 0; l < 32; ++l) {
    if (!lanes[l]) continue;
    const uint64_t v = *static_cast<const uint64_t*>(lanes[l]->in);
    unsigned same = 0;
    for (int k = 0; k < 32; ++k)
      if (lanes[k] && *static_cast<const uint64_t*>(lanes[k]->in) == v) same |= 1u << k;
    *static_cast<unsigned*>(lanes[l]->out) = same;
  }
}

struct MatchAllOut {
  unsigned mask;
  int pred;
};
void match_all_done(const WarpArrival* const* lanes, unsigned group) {
  bool all = true;
  const uint64_t* first = nullptr;
  for (int l = 0; l < 32; ++l) {
    if (!lanes[l]) continue;
    const auto* v = static_cast<const uint64_t*>(lanes[l]->in);
    if (!first) first = v;
    all = all && *v == *first;
  }
  for (int l = 0; l < 32; ++l)
    if (lanes[l]) *static_cast<MatchAllOut*>(lanes[l]->out) = MatchAllOut{all ? group : 0u, all};
}

template <int kOp, bool kSigned>
void reduce_done(const WarpArrival* const* lanes, unsigned) {
  bool started = false;
  uint32_t acc = 0;
  for (int l = 0; l < 32; ++l) {
    if (!lanes[l]) continue;
    const uint32_t v = *static_cast<const uint32_t*>(lanes[l]->in);
    if (!started) {
      acc = v;
      started = true;
      continue;
    }
    switch (kOp) {
      case kRedAdd: acc += v; break;
      case kRedMin:
        acc = kSigned ? (static_cast<int32_t>(v) < static_cast<int32_t>(acc) ? v : acc)
                      : (v < acc ? v : acc);
        break;
      case kRedMax:
        acc = kSigned ? (static_cast<int32_t>(v) > static_cast<int32_t>(acc) ? v : acc)
                      : (v > acc ? v : acc);
        break;
      case kRedAnd: acc &= v; break;
      case kRedOr: acc |= v; break;
      case kRedXor: acc ^= v; break;
    }
  }
  for (int l = 0; l < 32; ++l)
    if (lanes[l]) *static_cast<uint32_t*>(lanes[l]->out) = acc;
}

void syncwarp_done(const WarpArrival* const*, unsigned) {}

template <bool kSigned>
WarpCompletion reduce_fn(int op) {
  switch (op) {
    case kRedAdd: return reduce_done<kRedAdd, kSigned>;
    case kRedMin: return reduce_done<kRedMin, kSigned>;
    case kRedMax: return reduce_done<kRedMax, kSigned>;
    case kRedAnd: return reduce_done<kRedAnd, kSigned>;
    case kRedOr: return reduce_done<kRedOr, kSigned>;
    default: return reduce_done<kRedXor, kSigned>;
  }
}

}  // namespace

uint64_t shuffle(const char* name, int mode, unsigned mask, uint64_t bits, int arg, int width,
                 int bytes) {
  static const WarpCompletion done[4] = {shuffle_done<kShflIdx>, shuffle_done<kShflUp>,
                                         shuffle_done<kShflDown>, shuffle_done<kShflXor>};
  const ShuffleIn in{bits, bytes};
  uint64_t out = 0;
  warp_sync(name, done[mode & 3], mask, WarpArrival{&in, &out, arg, width});
  return out;
}

unsigned vote(const char* name, unsigned mask, int predicate, unsigned* group) {
  const int in = predicate != 0;
  VoteOut out{};
  warp_sync(name, vote_done, mask, WarpArrival{&in, &out, 0, 32});
  *group = out.group;
  return out.bits;
}

unsigned match_any(unsigned mask, uint64_t bits) {
  unsigned out = 0;
  warp_sync("__match_any_sync", match_any_done, mask, WarpArrival{&bits, &out, 0, 32});
  return out;
}

unsigned match_all(unsigned mask, uint64_t bits, int* predicate) {
  MatchAllOut out{};
  warp_sync("__match_all_sync", match_all_done, mask, WarpArrival{&bits, &out, 0, 32});
  *predicate = out.pred;
  return out.mask;
}

uint32_t reduce(const char* name, int op, bool is_signed, unsigned mask, uint32_t value) {
  uint32_t out = 0;
  warp_sync(name, is_signed ? reduce_fn<true>(op) : reduce_fn<false>(op), mask,
            WarpArrival{&value, &out, 0, 32});
  return out;
}

void syncwarp(unsigned mask) {
  warp_sync("__syncwarp", syncwarp_done, mask, WarpArrival{nullptr, nullptr, 0, 32});
}

}  // namespace emu::detail

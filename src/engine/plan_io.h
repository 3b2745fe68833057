// Little-endian byte writer and a bounds-checked reader for plans and timing caches.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kiln/status.h"

namespace kiln {

uint64_t fnv1a64(const uint8_t* data, size_t size);

class ByteWriter {
 public:
  void u8(uint8_t v) { bytes_.push_back(v); }
  void u32(uint32_t v) { raw(&v, 4); }
  void i32(int32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void i64(int64_t v) { raw(&v, 8); }
  void f64(double v) { raw(&v, 8); }
  void str(const std::string& s) {
    u64(s.size());
    raw(s.data(), s.size());
  }
  void raw(const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + size);
  }
  void alignTo(size_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
  }
  size_t size() const { return bytes_.size(); }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// Every read checks the remaining length; the first failure sticks and later reads return zeros.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t u8() { uint8_t v = 0; raw(&v, 1); return v; }
  uint32_t u32() { uint32_t v = 0; raw(&v, 4); return v; }
  int32_t i32() { int32_t v = 0; raw(&v, 4); return v; }
  uint64_t u64() { uint64_t v = 0; raw(&v, 8); return v; }
  int64_t i64() { int64_t v = 0; raw(&v, 8); return v; }
  double f64() { double v = 0; raw(&v, 8); return v; }
  std::string str(const char* what, size_t maxLength = 1 << 20) {
    const uint64_t n = u64();
    if (!ok_) return {};
    if (n > maxLength || n > remaining()) {
      fail(std::string(what) + ": string length " + std::to_string(n) + " exceeds the data");
      return {};
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  // A count of items each at least `minItemBytes` long: rejects counts the remaining bytes cannot hold.
  uint64_t count(const char* what, size_t minItemBytes) {
    const uint64_t n = u64();
    if (!ok_) return 0;
    if (minItemBytes == 0) minItemBytes = 1;
    if (n > remaining() / minItemBytes) {
      fail(std::string(what) + ": count " + std::to_string(n) + " exceeds the data");
      return 0;
    }
    return n;
  }
  void raw(void* out, size_t n) {
    if (!ok_) return;
    if (n > remaining()) {
      fail("unexpected end of data at byte " + std::to_string(pos_));
      return;
    }
    std::memcpy(out, data_ + pos_, n);
    pos_ += n;
  }
  void fail(const std::string& message) {
    if (ok_) {
      ok_ = false;
      error_ = message;
    }
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  size_t position() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  bool ok_ = true;
  std::string error_;
};

}  // namespace kiln

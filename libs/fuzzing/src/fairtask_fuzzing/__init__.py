"""Fuzzing support for fairtask's tests: messages built from the protobuf descriptors, so every
request and event type, including ones added later, is fuzzed without a hand-kept list."""

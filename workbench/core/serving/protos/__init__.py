"""Generated protobuf modules of the project's own .proto subsets (tfserving.proto, oip.proto; regen.sh)."""

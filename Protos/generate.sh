#!/usr/bin/env bash
# Regenerates Sources/LaminaServeGRPC/Generated from the .proto files here. Needed only when a
# .proto changes: the generated code is committed, so building Lamina needs neither protoc nor
# the plugins.
#
#   apt-get install -y protobuf-compiler
#   # in a scratch package depending on grpc-swift-protobuf 2.4.1 and swift-protobuf 1.39.0:
#   swift build --product protoc-gen-swift && swift build --product protoc-gen-grpc-swift-2
#   PLUGINS=/path/to/that/.build/debug Protos/generate.sh
set -euo pipefail
cd "$(dirname "$0")"
: "${PLUGINS:?set PLUGINS to the folder holding protoc-gen-swift and protoc-gen-grpc-swift-2}"
OUT=../Sources/LaminaServeGRPC/Generated
rm -rf "$OUT" && mkdir -p "$OUT"
PROTOS=$(find tensorflow tensorflow_serving -name '*.proto' | sort)
protoc --plugin=protoc-gen-swift="$PLUGINS/protoc-gen-swift" \
       --swift_out="$OUT" --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores \
       $PROTOS
protoc --plugin=protoc-gen-grpc-swift="$PLUGINS/protoc-gen-grpc-swift-2" \
       --grpc-swift_out="$OUT" --grpc-swift_opt=Visibility=Public --grpc-swift_opt=FileNaming=PathToUnderscores \
       --grpc-swift_opt=Client=true --grpc-swift_opt=Server=true \
       tensorflow_serving/apis/prediction_service.proto tensorflow_serving/apis/model_service.proto

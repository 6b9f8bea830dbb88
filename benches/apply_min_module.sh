#!/bin/sh
# The smallest honest module for the apply benchmarks: speaks the module SPI
# (JSON-RPC 2.0, one message per line), echoes the initialize token, is ready at
# once and exits after answering shutdown. POSIX sh (dash starts in about a
# millisecond); requests are read with pattern matching, which holds for the
# compact JSON rune writes.
#
#   spi-min-module.sh NAME VERSION
name=$1
version=$2
while IFS= read -r line; do
    id=${line#*\"id\":}
    id=${id%%[,\}]*}
    case $line in
    *'"method":"describe"'*)
        printf '{"jsonrpc":"2.0","id":%s,"result":{"module_name":"%s","module_version":"%s","spi_versions":["1"]}}\n' "$id" "$name" "$version"
        ;;
    *'"method":"initialize"'*)
        token=${line#*\"token\":\"}
        token=${token%%\"*}
        printf '{"jsonrpc":"2.0","id":%s,"result":{"spi_version":"1","token":"%s"}}\n' "$id" "$token"
        ;;
    *'"method":"ready"'*)
        printf '{"jsonrpc":"2.0","id":%s,"result":{"ready":true,"status":"ok"}}\n' "$id"
        ;;
    *'"method":"health"'*)
        printf '{"jsonrpc":"2.0","id":%s,"result":{"status":"ready","details":{}}}\n' "$id"
        ;;
    *'"method":"drain"'*)
        printf '{"jsonrpc":"2.0","id":%s,"result":{"status":"draining"}}\n' "$id"
        ;;
    *'"method":"shutdown"'*)
        printf '{"jsonrpc":"2.0","id":%s,"result":{}}\n' "$id"
        exit 0
        ;;
    *)
        printf '{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"method not found"}}\n' "$id"
        ;;
    esac
done

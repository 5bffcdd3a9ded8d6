#!/usr/bin/env bash
# Generates the HTTP API's Swift types and server stubs from Sources/Server/openapi.yaml with
# swift-openapi-generator (built once from the package mirror in .build-openapi/, no network), into
# Sources/Server/Generated/ (Types*.swift, Server.swift), which are committed.
#   scripts/openapi-generate.sh           regenerate the committed files
#   scripts/openapi-generate.sh --check   fail (exit 1) when the committed files differ from what the
#                                         document generates; change nothing
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.14.3
check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "openapi-generate.sh: unknown argument '$1' (use --check or nothing)" >&2; exit 2 ;;
esac
document=Sources/Server/openapi.yaml
config=openapi-generator-config.yaml
target=Sources/Server/Generated

# A scratch package whose only dependency is the generator, pinned to one version.
scratch=.build-openapi/generator-$version
mkdir -p "$scratch/Sources/Unused"
cat >"$scratch/Package.swift.new" <<SWIFT
// swift-tools-version: 6.1
import PackageDescription
let package = Package(
    name: "openapi-generator-$version",
    dependencies: [.package(url: "https://github.com/apple/swift-openapi-generator", exact: "$version")],
    targets: [.target(name: "Unused", path: "Sources/Unused")]
)
SWIFT
cmp -s "$scratch/Package.swift.new" "$scratch/Package.swift" 2>/dev/null || mv "$scratch/Package.swift.new" "$scratch/Package.swift"
rm -f "$scratch/Package.swift.new"
[ -f "$scratch/Sources/Unused/Unused.swift" ] || echo "// The scratch package needs a target." >"$scratch/Sources/Unused/Unused.swift"
generator="$scratch/.build/debug/swift-openapi-generator"
# A debug build: it takes about half the time of a release one (4-10 minutes on 2 busy cores, once), and
# generates in 5 s. Later builds find nothing to do (2-3 s).
[ -x "$generator" ] || echo "openapi-generate.sh: building swift-openapi-generator $version (once, into $scratch)" >&2
swift build --package-path "$scratch" --product swift-openapi-generator >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log" >&2; exit 1; }

out=$(mktemp -d /tmp/kaji-openapi.XXXXXX)
trap 'rm -rf "$out" "$out.diff" "$out.log"' EXIT
if ! "$generator" generate --config "$config" --output-directory "$out" "$document" >"$out.log" 2>&1; then
  cat "$out.log" >&2
  echo "openapi-generate.sh: swift-openapi-generator failed on $document" >&2
  exit 1
fi
grep -i -E 'warning|error' "$out.log" >&2 || true

if [ "$check" -eq 1 ]; then
  if ! diff -ru "$target" "$out" >"$out.diff" 2>&1; then
    echo "openapi-generate.sh: $target/ does not match $document:" >&2
    head -n 60 "$out.diff" >&2
    rm -f "$out.diff"
    echo "openapi-generate.sh: the committed generated code is out of date: run scripts/openapi-generate.sh and commit $target/" >&2
    exit 1
  fi
  rm -f "$out.diff"
  echo "openapi-generate.sh: $target/ matches $document" >&2
  exit 0
fi
rm -rf "$target"
mkdir -p "$target"
cp "$out"/*.swift "$target/"
echo "openapi-generate.sh: wrote $(ls "$target" | tr '\n' ' ')into $target/" >&2

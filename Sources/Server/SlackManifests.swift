import Engine
import Foundation
import Workflows

/// The cluster manifests of a folder (`/kaji apply NAME`): every `*.yaml` / `*.yml` file in it and its
/// subfolders (hidden ones such as `.git` left out), matched by the manifest's `name`. A git checkout of
/// the team's manifests is such a folder.
struct SlackManifests: Sendable {
    let directory: String
    /// Files larger than this are not read (1 MiB, as request bodies).
    static let maxFileBytes = 1 << 20
    /// At most this many files are looked at.
    static let maxFiles = 2000

    struct Found: Sendable {
        /// The file, relative to the folder.
        let file: String
        let yaml: String
    }

    /// The manifest whose `name` is `cluster`. Throws `clusterNotFound` (field `name`) when no file names
    /// it, and `invalidArgument` when two do.
    func manifest(named cluster: String) throws -> Found {
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey],
                                                          options: [.skipsHiddenFiles]) else {
            throw KajiError(.notConfigured, "the manifest folder cannot be read")
        }
        var matches: [Found] = []
        var seen = 0
        for case let url as URL in walker {
            let ext = url.pathExtension.lowercased()
            guard ext == "yaml" || ext == "yml" else { continue }
            let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
            guard values?.isRegularFile == true, (values?.fileSize ?? 0) <= Self.maxFileBytes else { continue }
            seen += 1
            if seen > Self.maxFiles { break }
            guard let data = FileManager.default.contents(atPath: url.path) else { continue }
            let yaml = String(decoding: data, as: UTF8.self)
            // Only a manifest's top-level name counts; other YAML (CI files, Helm values) is passed over.
            guard yaml.contains(cluster),
                  (Self.topLevel("name", in: yaml) == cluster && Self.topLevel("kind", in: yaml) == ClusterManifest.kind)
                    || ClusterManifest.check(yaml: yaml).spec?.name == cluster else { continue }
            let relative = url.standardizedFileURL.path.hasPrefix(root.path + "/") ? String(url.standardizedFileURL.path.dropFirst(root.path.count + 1)) : url.lastPathComponent
            matches.append(Found(file: relative, yaml: yaml))
        }
        if matches.count > 1 {
            throw KajiError(.invalidArgument, "\(matches.count) manifests name cluster \(cluster): \(matches.map(\.file).sorted().joined(separator: ", ")); keep one", field: "name")
        }
        guard let found = matches.first else {
            throw KajiError(.clusterNotFound, "no manifest in the manifest folder names cluster '\(cluster)' (\(seen) YAML file\(seen == 1 ? "" : "s") read)", field: "name")
        }
        return found
    }

    /// `KEY: X` at the top level of a YAML document (so that a manifest with problems is still found and
    /// its problems reported).
    static func topLevel(_ key: String, in yaml: String) -> String? {
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: true) where line.hasPrefix(key + ":") {
            var value = line.dropFirst(key.count + 1)
            if let hash = value.firstIndex(of: "#") { value = value[..<hash] }
            return value.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        }
        return nil
    }
}

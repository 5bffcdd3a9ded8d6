import Foundation

/// The numbered SQL migrations shipped with Kaji: the only source of the schema.
public enum KajiMigrationFiles {
    /// One migration file: its number, its name and its SQL text.
    public struct File: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    /// Every migration file, in order of version. Files are named `NNNN_name.sql`.
    /// `KAJI_MIGRATIONS_DIR` overrides where they are read from (default: the bundled copy).
    public static func load() throws -> [File] {
        let directory: URL
        if let override = ProcessInfo.processInfo.environment["KAJI_MIGRATIONS_DIR"], !override.isEmpty {
            directory = URL(fileURLWithPath: override)
        } else {
            guard let bundled = Bundle.module.url(forResource: "sql", withExtension: nil) else {
                throw MigrationFileError(message: "the migrations bundle has no sql folder; set KAJI_MIGRATIONS_DIR to the Migrations/sql folder")
            }
            directory = bundled
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }
        var files: [File] = []
        for name in names {
            let stem = String(name.dropLast(4))
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0 else {
                throw MigrationFileError(message: "migration file '\(name)' is not named NNNN_name.sql")
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            files.append(File(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        files.sort { $0.version < $1.version }
        for (a, b) in zip(files, files.dropFirst()) where a.version == b.version {
            throw MigrationFileError(message: "two migration files share version \(a.version): \(a.name), \(b.name)")
        }
        return files
    }
}

/// A migration file that cannot be read or is misnamed.
public struct MigrationFileError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

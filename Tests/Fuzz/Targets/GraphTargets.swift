import Core
import Foundation
import Graph

// Targets for kg-query's inputs: triple files, the two query syntaxes, query files and saved
// link-predictor folders.

/// The vocabulary the query targets parse against (names from the seeds, with spaces and dots).
let fuzzEntities = Vocabulary(["a", "b", "dog.n.01", "New York", "x", "e1", "e2"])
let fuzzRelations = Vocabulary(["r", "r1", "r2", "r3", "hypernym", "part of"])

let graphFuzzTargets: [FuzzTarget] = [
    FuzzTarget(name: "triples", summary: "train #~#~# valid #~#~# test triple files through KGDataset.parse", maxLength: 8192) { data in
        let parts = Fuzz.parts(data, 3).map(Fuzz.text)
        do {
            _ = try KGDataset.parse(
                train: ("train.txt", parts[0]),
                valid: parts[1].isEmpty ? nil : ("valid.txt", parts[1]),
                test: parts[2].isEmpty ? nil : ("test.txt", parts[2]))
        } catch {
            // Any of the three may be at fault; the message must name one of them.
            let text = String(describing: error)
            Fuzz.expectClear(error, naming: ["train.txt", "valid.txt", "test.txt"].first { text.contains($0) } ?? "train.txt")
        }
    },
    FuzzTarget(name: "kg-query", summary: "kg-query's query syntax, functional (r2(r1(a))) and first-order (?y : ...)") { data in
        let text = Fuzz.text(data)
        let functional = QueryParser(entities: fuzzEntities, relations: fuzzRelations)
        let firstOrder = FirstOrderQueryParser(entities: fuzzEntities, relations: fuzzRelations)
        // Parse errors are in-memory and name a character position, not a file.
        if let q = try? functional.parse(text) {
            // What the parser accepts, the formatter must write back to the same query.
            let again = functional.format(q)
            guard let back = try? functional.parse(again), back == q else {
                fatalError("format/parse round trip changed the query: \(text.debugDescription) -> \(again.debugDescription)")
            }
        }
        if let q = try? firstOrder.parse(text) { _ = firstOrder.format(q) }
        _ = try? functional.parseAny(text)
    },
    FuzzTarget(name: "query-file", summary: "a kg-query JSON-lines query file (QueryFile.read)") { data in
        let url = URL(fileURLWithPath: "queries.jsonl")
        Fuzz.attempt(naming: url.path) { _ = try QueryFile.read(data: data, url: url, entities: fuzzEntities, relations: fuzzRelations) }
    },
    FuzzTarget(name: "kg-model", summary: "a kg-query model folder: config.json #~#~# entities.txt #~#~# relations.txt #~#~# model.safetensors") { data in
        let parts = Fuzz.parts(data, 4)
        let names = [LinkPredictorFiles.configName, LinkPredictorFiles.entitiesName, LinkPredictorFiles.relationsName, LinkPredictorFiles.weightsName]
        for (name, part) in zip(names, parts) { Fuzz.file(name, part, in: "kgmodel") }
        Fuzz.attempt(naming: "kgmodel") {
            let saved = try LinkPredictorFiles.load(Fuzz.scratch.appendingPathComponent("kgmodel"))
            _ = saved.parser
        }
    },
]

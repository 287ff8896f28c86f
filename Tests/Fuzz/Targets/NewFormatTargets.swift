import Core
import Foundation
import Text
import Vision

// Targets for the parsers that landed after the first fuzzing round: change-detect's TIFF /
// GeoTIFF reader, gec-cl's M2, TSV and JSON-lines readers, crosstune's HTTP/1.1 parser (both
// directions: the TEI server reads requests, the clients read responses), the TEI embedding JSON
// and crosstune's labelled-text CSV/TSV/JSON-lines reader.

/// Small limits, so the fuzzer reaches the limit checks with short inputs too.
private let tightHTTP = HTTPLimits(maxHeaderBytes: 256, maxBodyBytes: 1024)

let newFormatFuzzTargets: [FuzzTarget] = [
    FuzzTarget(name: "tiff", summary: "TIFF / GeoTIFF (strips and tiles, compressed or not, 8/16/32-bit samples, GeoTIFF tags) through TIFFDecoder") { data in
        do {
            let r = try TIFFDecoder.decode(data, file: "input.tif")
            guard r.width > 0, r.height > 0, r.bands > 0, r.samples.count == r.width * r.height * r.bands else {
                fatalError("TIFF raster \(r.width)x\(r.height)x\(r.bands) with \(r.samples.count) samples")
            }
            _ = r.band(r.bands - 1)
        } catch {
            Fuzz.expectClear(error, naming: "input.tif")
        }
    },
    FuzzTarget(name: "m2", summary: "an M2 file (gec-cl's evaluation data) through M2File.parse, then each coder's correction", maxLength: 8192) { data in
        guard let text = String(data: data, encoding: .utf8) else { return }  // M2File.read refuses non-UTF-8 first
        do {
            let sentences = try M2File.parse(text, path: "input.m2")
            _ = GECDataReader.fromM2(sentences)   // every coder's correction of every block
            _ = M2File.text(sentences)
        } catch {
            Fuzz.expectClear(error, naming: "input.m2")
        }
    },
    FuzzTarget(name: "gec-data", summary: "gec-cl's TSV (source<TAB>target) and JSON-lines example files", maxLength: 8192) { data in
        guard let text = String(data: data, encoding: .utf8) else { return }
        Fuzz.attempt(naming: "train.tsv") { _ = try GECDataReader.parseTSV(text, path: "train.tsv") }
        Fuzz.attempt(naming: "train.jsonl") { _ = try GECDataReader.parseJSONLines(text, path: "train.jsonl") }
    },
    FuzzTarget(name: "http-request", summary: "HTTP/1.1 requests as crosstune's TEI server reads them (pipelined, chunked, limits)", maxLength: 4096) { data in
        for limits in [HTTPLimits(), tightHTTP] {
            var bytes = [UInt8](data)
            // Pipelined requests: parse until incomplete or an error; each must consume bytes.
            for _ in 0..<64 {
                do {
                    guard let (request, used) = try HTTPParser.request(bytes, limits: limits) else { break }
                    guard used > 0, used <= bytes.count, request.body.count <= limits.maxBodyBytes else {
                        fatalError("request parser used \(used) of \(bytes.count) bytes, body \(request.body.count)")
                    }
                    bytes.removeFirst(used)
                } catch {
                    Fuzz.expectOneLine(error)
                    break
                }
            }
        }
    },
    FuzzTarget(name: "http-response", summary: "HTTP/1.1 responses as crosstune's clients read them (length, chunked, until close)", maxLength: 4096) { data in
        let bytes = [UInt8](data)
        for closed in [false, true] {
            for limits in [HTTPLimits(), tightHTTP] {
                do {
                    if let (response, used) = try HTTPParser.response(bytes, closed: closed, limits: limits) {
                        guard used > 0, used <= bytes.count, response.body.count <= limits.maxBodyBytes else {
                            fatalError("response parser used \(used) of \(bytes.count) bytes, body \(response.body.count)")
                        }
                    }
                } catch {
                    Fuzz.expectOneLine(error)
                }
            }
        }
    },
    FuzzTarget(name: "tei-json", summary: "a TEI /embed or /embed_all JSON body (nested number arrays) through TEIJSON.parseNested", maxLength: 8192) { data in
        let bytes = [UInt8](data)
        for depth in [2, 3] {
            do {
                let (items, width) = try TEIJSON.parseNested(bytes, depth: depth, what: "embed response")
                for item in items where item.values.count != item.rows * width {
                    fatalError("TEI item with \(item.rows) rows of \(width) holds \(item.values.count) values")
                }
            } catch {
                Fuzz.expectOneLine(error)
            }
        }
    },
    FuzzTarget(name: "labelled-text", summary: "crosstune's labelled texts: CSV (RFC 4180), TSV and JSON lines", maxLength: 8192) { data in
        for name in ["train.csv", "train.tsv", "train.jsonl"] {
            Fuzz.attempt(naming: name) { _ = try LabelledTextReader.read(data: data, path: name) }
        }
    },
]

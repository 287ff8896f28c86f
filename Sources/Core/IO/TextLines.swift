/// Splitting text files into lines the way users' files actually arrive.
///
/// Swift treats `"\r\n"` as one `Character`, so `text.split(separator: "\n")` leaves every line
/// of a Windows (CRLF) file joined into one: a CSV saved by a spreadsheet would parse as a
/// single malformed row. Every line-oriented reader goes through `textLines` instead, which
/// ends a line at `"\n"` or `"\r\n"`.
extension StringProtocol {
    /// The lines of the text, split at LF and CRLF (the terminators are not included).
    ///
    /// `omittingEmpty` drops empty lines (as `split` does by default); keep them (`false`) when
    /// line numbers must match the file for error messages.
    ///
    /// ```swift
    /// "a\r\nb\n\nc".textLines()                        // ["a", "b", "", "c"]
    /// "a\r\nb\n\nc".textLines(omittingEmpty: true)     // ["a", "b", "c"]
    /// ```
    public func textLines(omittingEmpty: Bool = false) -> [SubSequence] {
        split(omittingEmptySubsequences: omittingEmpty, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
    }
}

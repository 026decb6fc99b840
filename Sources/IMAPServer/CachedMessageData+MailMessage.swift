// What roost.cache keeps for a message, computed by the MIME library: the exact bytes FETCH
// ENVELOPE, BODY and BODYSTRUCTURE send, and where the top-level header ends.
import Maildir
import MailMessage

extension CachedMessageData {
    init(_ message: MailMessage) {
        self.init(headerSize: message.root.header.range.upperBound,
                  envelope: message.envelopeBytes(),
                  body: message.bodyStructure(extended: false),
                  bodyStructure: message.bodyStructure(extended: true))
    }
}

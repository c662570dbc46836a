package dev.flags.server;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * Immutable (stateless). Reads the server's TLS files: a PEM certificate chain and a PEM PKCS#8
 * private key ("BEGIN PRIVATE KEY"), RSA or EC, as {@code openssl} writes them. {@link #check} is
 * what {@link ServerConfig} runs on them; {@link #serverContext} builds the HTTP port's
 * {@link SSLContext}. (The gRPC port reads the same files through Netty, which takes these forms too.)
 */
final class PemTls {

    private static final Pattern KEY = Pattern.compile("-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");
    private static final Pattern CERTIFICATE = Pattern.compile("-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\\s]+)-----END CERTIFICATE-----");
    /** Any other PEM private key, to say what a file holds instead of PKCS#8: "RSA PRIVATE KEY", ... */
    private static final Pattern OTHER_KEY = Pattern.compile("-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----");
    /** The bytes signed to see whether a key is its certificate's. */
    private static final byte[] PROBE = "flags-server: is this key the certificate's?".getBytes(StandardCharsets.US_ASCII);

    private PemTls() {
    }

    /**
     * Checks that the files can serve TLS on both ports: the chain holds a PEM certificate, the key
     * file an unencrypted PKCS#8 RSA or EC key, and that key is the first certificate's (it signs
     * what the certificate's public key verifies). A key of another certificate would otherwise be
     * taken, and every handshake would fail with nothing in the server's log.
     *
     * @param certificateChain the PEM certificate chain, the server's own certificate first
     * @param privateKey the PEM private key
     * @throws IllegalArgumentException if a file holds something else, or the key is another
     *     certificate's: one line naming the file and, where {@code openssl} can, how to convert it
     * @throws IOException if a file cannot be read
     */
    static void check(Path certificateChain, Path privateKey) throws IOException {
        check(certificateChain, privateKey, Instant.now());
    }

    /**
     * As {@link #check(Path, Path)}, and the certificate must be valid at {@code now}: one that has expired, or is not
     * valid yet, would be refused by every client, while the server logged that it was ready.
     *
     * @param now the time to judge the certificate's validity at (clients judge it by their clocks)
     * @throws IllegalArgumentException also if the server's certificate is expired or not yet valid, with its dates
     * @throws IOException if a file cannot be read
     */
    static void check(Path certificateChain, Path privateKey, Instant now) throws IOException {
        List<Certificate> chain = readChain(certificateChain);
        Certificate certificate = chain.get(0);
        // Every certificate of the chain: clients refuse an expired intermediate as they refuse an expired leaf.
        for (int i = 0; i < chain.size(); i++) {
            if (!(chain.get(i) instanceof X509Certificate x509)) {
                continue;
            }
            String which = i == 0 ? "the TLS certificate " + certificateChain
                    : "certificate " + (i + 1) + " of the TLS certificate chain " + certificateChain + " (" + subject(x509) + ")";
            Instant from = x509.getNotBefore().toInstant();
            Instant until = x509.getNotAfter().toInstant();
            if (now.isAfter(until)) {
                throw new IllegalArgumentException(which + " expired at " + until + ": every client would refuse it; renew it"
                        + " (the server reads it at start: start it again after)");
            }
            if (now.isBefore(from)) {
                throw new IllegalArgumentException(which + " is valid only from " + from + " (this machine's clock says "
                        + now.truncatedTo(ChronoUnit.SECONDS) + "): every client would refuse it until then; check the clocks,"
                        + " or use a certificate valid now");
            }
        }
        PrivateKey key = readKey(privateKey);
        PublicKey certified = certificate.getPublicKey();
        if (!certified.getAlgorithm().equals(key.getAlgorithm()) || !signs(key, certified)) {
            // `cat intermediate.pem server.pem` is a common slip: the key is then the second certificate's (QA75 F3).
            for (int i = 1; i < chain.size(); i++) {
                PublicKey other = chain.get(i).getPublicKey();
                if (other.getAlgorithm().equals(key.getAlgorithm()) && signs(key, other)) {
                    throw new IllegalArgumentException("the TLS key " + privateKey + " belongs to certificate " + (i + 1)
                            + " of " + certificateChain + (chain.get(i) instanceof X509Certificate x ? " (" + subject(x) + ")" : "")
                            + ", not to its first: the server's own certificate comes first in the file, then the"
                            + " intermediates that issued it; reorder the file");
                }
            }
        }
        if (!certified.getAlgorithm().equals(key.getAlgorithm())) {
            throw new IllegalArgumentException("the TLS key " + privateKey + " does not belong to the certificate " + certificateChain
                    + " (its public key is " + certified.getAlgorithm() + ", the key " + key.getAlgorithm() + ")");
        }
        if (!signs(key, certified)) {
            throw new IllegalArgumentException("the TLS key " + privateKey + " does not belong to the certificate " + certificateChain
                    + " (its public key differs)");
        }
        if (certificate instanceof X509Certificate leaf) {
            requireServerUse(leaf, certificateChain);
        }
    }

    /** TLS server authentication, as an extended key usage. */
    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    /** Any extended key usage. */
    private static final String ANY_USAGE = "2.5.29.37.0";

    /**
     * A certificate made for clients only (its extended key usage lacks server authentication) is refused by every
     * client, as an expired one is, while the server would log that it was ready (QA75 F2).
     */
    private static void requireServerUse(X509Certificate leaf, Path certificateChain) {
        List<String> usages;
        try {
            usages = leaf.getExtendedKeyUsage();
        } catch (java.security.cert.CertificateParsingException e) {
            throw new IllegalArgumentException("the TLS certificate " + certificateChain + " has an extended key usage that"
                    + " cannot be read: " + e.getMessage());
        }
        if (usages != null && !usages.contains(SERVER_AUTH) && !usages.contains(ANY_USAGE)) {
            throw new IllegalArgumentException("the TLS certificate " + certificateChain + " (" + subject(leaf) + ") is not"
                    + " made for a server: its extended key usage is " + usages + ", without TLS server authentication ("
                    + SERVER_AUTH + "): every client would refuse it; issue one with extendedKeyUsage=serverAuth");
        }
    }

    /**
     * @param certificateChain the PEM certificate chain, checked by {@link #check}
     * @return when the first certificate of the chain to expire expires (the server's own, or an intermediate's): from
     *     then on clients refuse the chain
     * @throws IOException if the file cannot be read
     */
    static Instant expiry(Path certificateChain) throws IOException {
        Instant first = null;
        for (Certificate certificate : readChain(certificateChain)) {
            if (certificate instanceof X509Certificate x509 && (first == null || x509.getNotAfter().toInstant().isBefore(first))) {
                first = x509.getNotAfter().toInstant();
            }
        }
        if (first == null) {
            throw new IllegalArgumentException("the TLS certificate " + certificateChain + " is not an X.509 certificate");
        }
        return first;
    }

    private static String subject(X509Certificate certificate) {
        return certificate.getSubjectX500Principal().getName();
    }

    /**
     * @param certificateChain the PEM certificate chain, checked by {@link #check}
     * @param privateKey its PEM PKCS#8 key, checked by {@link #check}
     * @return a server context serving that certificate
     * @throws IOException if a file cannot be read or no longer holds what {@link #check} found
     */
    static SSLContext serverContext(Path certificateChain, Path privateKey) throws IOException {
        try {
            List<Certificate> chain = readChain(certificateChain);
            PrivateKey key = readKey(privateKey);
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            char[] password = new char[0];
            store.setKeyEntry("server", key, password, chain.toArray(new Certificate[0]));
            KeyManagerFactory managers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            managers.init(store, password);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(managers.getKeyManagers(), null, null);
            return context;
        } catch (IllegalArgumentException e) { // a file replaced since the settings were checked: a start failure
            throw new IOException(e.getMessage(), e);
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot use the TLS certificate " + certificateChain + " and key " + privateKey + ": " + e.getMessage(), e);
        }
    }

    private static List<Certificate> readChain(Path file) throws IOException {
        String pem = read(file);
        List<Certificate> chain = new ArrayList<>();
        try {
            CertificateFactory certificates = CertificateFactory.getInstance("X.509");
            // Only the CERTIFICATE blocks, as Netty reads them for the gRPC port: a file that also
            // holds the key serves both ports alike.
            for (Matcher m = CERTIFICATE.matcher(pem); m.find(); ) {
                chain.add(certificates.generateCertificate(new ByteArrayInputStream(Base64.getMimeDecoder().decode(m.group(1)))));
            }
        } catch (CertificateException | IllegalArgumentException e) { // IllegalArgumentException: bad base64
            throw new IllegalArgumentException("the TLS certificate " + file + " holds a PEM certificate that cannot be read: " + e.getMessage(), e);
        }
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("the TLS certificate " + file + " holds no PEM certificate (\"BEGIN CERTIFICATE\")"
                    + (OTHER_KEY.matcher(pem).find() ? " but a private key: are the certificate and the key swapped?" : ""));
        }
        return chain;
    }

    private static PrivateKey readKey(Path file) throws IOException {
        String pem = read(file);
        Matcher m = KEY.matcher(pem);
        if (!m.find()) {
            throw new IllegalArgumentException(notPkcs8(file, pem));
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(m.group(1));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the TLS key " + file + " is not valid PEM: " + e.getMessage(), e);
        }
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        // RSA and EC only: Netty, which reads the key for the gRPC port, takes no other (not Ed25519).
        for (String algorithm : new String[] {"RSA", "EC"}) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new IllegalArgumentException("the TLS key " + file + " is neither an RSA nor an EC key, the kinds the server serves TLS with");
    }

    /** What a key file holds instead of a PKCS#8 key, and, where openssl can convert it, the command. */
    private static String notPkcs8(Path file, String pem) {
        Matcher other = OTHER_KEY.matcher(pem);
        if (!other.find()) {
            return "the TLS key " + file + " holds no PEM private key (\"BEGIN PRIVATE KEY\")"
                    + (CERTIFICATE.matcher(pem).find() ? " but a certificate: are the certificate and the key swapped?" : "");
        }
        String label = other.group(1);
        String convert = "openssl pkcs8 -topk8 -nocrypt -in " + file + " -out " + pkcs8Name(file);
        if (label.equals("ENCRYPTED PRIVATE KEY")) {
            return "the TLS key " + file + " is encrypted; the server reads an unencrypted PKCS#8 key: " + convert + " (asks for the passphrase)";
        }
        String kind = switch (label) {
            case "RSA PRIVATE KEY" -> "a PKCS#1 RSA key";
            case "EC PRIVATE KEY" -> "an SEC1 EC key";
            default -> null; // DSA, OpenSSH, ...: no conversion makes them a key the server takes
        };
        if (kind == null) {
            return "the TLS key " + file + " is a \"BEGIN " + label + "\" key; the server reads an RSA or EC key in PKCS#8 (\"BEGIN PRIVATE KEY\")";
        }
        // An old-style encrypted key says so in a header; openssl then asks for its passphrase.
        String passphrase = pem.contains("Proc-Type: 4,ENCRYPTED") ? " (it is encrypted: asks for the passphrase)" : "";
        return "the TLS key " + file + " is " + kind + " (\"BEGIN " + label + "\"); the server reads PKCS#8: " + convert + passphrase;
    }

    /** key.pem: key-pkcs8.pem, beside it. */
    private static Path pkcs8Name(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return file.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + "-pkcs8.pem");
    }

    /** Whether the certificate's public key verifies what the key signs: only then is it its key. */
    private static boolean signs(PrivateKey key, PublicKey certified) {
        String algorithm = key.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
        try {
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(PROBE);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(certified);
            verifier.update(PROBE);
            return verifier.verify(signature);
        } catch (InvalidKeyException | SignatureException e) { // e.g. an EC key of another curve than the certificate's
            return false;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK cannot " + algorithm + ": " + e.getMessage(), e);
        }
    }

    /** PEM is ASCII; ISO-8859-1 reads any bytes, so a binary (DER) file is "no PEM", not a decoding error. */
    private static String read(Path file) throws IOException {
        return new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
    }
}

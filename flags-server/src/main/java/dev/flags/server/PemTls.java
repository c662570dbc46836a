package dev.flags.server;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Collection;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * Immutable (stateless). Builds a server {@link SSLContext} from PEM files: a certificate chain and a
 * PKCS#8 private key ("BEGIN PRIVATE KEY"), RSA or EC, as {@code openssl} writes them.
 */
final class PemTls {

    private static final Pattern KEY = Pattern.compile("-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");

    private PemTls() {
    }

    static SSLContext serverContext(Path certificateChain, Path privateKey) throws IOException {
        try {
            CertificateFactory certificates = CertificateFactory.getInstance("X.509");
            Collection<? extends Certificate> chain;
            try (var in = new ByteArrayInputStream(Files.readAllBytes(certificateChain))) {
                chain = certificates.generateCertificates(in);
            }
            if (chain.isEmpty()) {
                throw new IOException("no certificate in " + certificateChain);
            }
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
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot use the TLS certificate " + certificateChain + " and key " + privateKey + ": " + e.getMessage(), e);
        }
    }

    private static PrivateKey readKey(Path file) throws IOException, GeneralSecurityException {
        Matcher m = KEY.matcher(Files.readString(file));
        if (!m.find()) {
            throw new IOException("the TLS key " + file + " must be a PEM PKCS#8 key (\"BEGIN PRIVATE KEY\"); "
                    + "convert it with: openssl pkcs8 -topk8 -nocrypt -in old.pem -out key.pem");
        }
        byte[] der = Base64.getMimeDecoder().decode(m.group(1));
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (String algorithm : new String[] {"RSA", "EC", "Ed25519"}) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new IOException("the TLS key " + file + " is neither an RSA, EC nor Ed25519 key");
    }
}

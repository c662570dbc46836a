package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AddressesTest {

    @Test
    void ipv6IsWrittenInItsShortForm() throws Exception {
        assertThat(Addresses.text(InetAddress.getByName("0:0:0:0:0:0:0:1"))).isEqualTo("::1");
        assertThat(Addresses.text(InetAddress.getByName("0:0:0:0:0:0:0:0"))).isEqualTo("::");
        assertThat(Addresses.text(InetAddress.getByName("2001:0db8:0:0:0:0:2:1"))).isEqualTo("2001:db8::2:1");
        assertThat(Addresses.text(InetAddress.getByName("1:0:0:0:0:0:0:0"))).isEqualTo("1::");
        assertThat(Addresses.text(InetAddress.getByName("2001:db8:0:1:1:1:1:1"))).as("one zero group stays")
                .isEqualTo("2001:db8:0:1:1:1:1:1");
        assertThat(Addresses.text(InetAddress.getByName("2001:db8:0:0:1:0:0:1"))).as("the first of equal runs")
                .isEqualTo("2001:db8::1:0:0:1");
        assertThat(Addresses.text(InetAddress.getByName("2001:0:0:1:0:0:0:1"))).as("the longest run")
                .isEqualTo("2001:0:0:1::1");
        assertThat(Addresses.text(InetAddress.getByName("FE80:0:0:0:0:0:0:1%1"))).isEqualTo("fe80::1%1");
    }

    @Test
    void ipv4AndWhatIsNotAnAddressLiteralStayAsTheyAre() throws Exception {
        assertThat(Addresses.text(InetAddress.getByName("127.0.0.1"))).isEqualTo("127.0.0.1");
        assertThat(Addresses.text("127.0.0.1")).isEqualTo("127.0.0.1");
        assertThat(Addresses.text("0:0:0:0:0:0:0:1")).as("a servlet's getRemoteAddr()").isEqualTo("::1");
        assertThat(Addresses.text("[0:0:0:0:0:0:0:1]")).isEqualTo("::1");
        assertThat(Addresses.text("not:an address")).as("no lookup by name").isEqualTo("not:an address");
        assertThat(Addresses.text((String) null)).isEqualTo("an unknown address");
        assertThat(Addresses.text(new InetSocketAddress(InetAddress.getByName("::1"), 443))).isEqualTo("::1");
        assertThat(Addresses.text(InetSocketAddress.createUnresolved("flags.example", 443))).isEqualTo("an unknown address");
    }

    @Test
    void anyIpv6AddressReadsBackAsItselfAndHasNoRunOfZeroGroupsLeft() throws Exception {
        Random random = new Random(5952);
        for (int i = 0; i < 20_000; i++) {
            byte[] bytes = new byte[16];
            for (int group = 0; group < 8; group++) {
                // Zero groups often, so that runs of every length and place come up.
                int value = random.nextInt(3) == 0 ? 0 : random.nextInt(0x10000);
                bytes[2 * group] = (byte) (value >> 8);
                bytes[2 * group + 1] = (byte) value;
            }
            InetAddress address = InetAddress.getByAddress(bytes);
            String text = Addresses.text(address);
            assertThat(InetAddress.getByName(text)).as(text).isEqualTo(address);
            assertThat(text).as(text).doesNotContainPattern("(^|:)0[0-9a-f]").isEqualTo(text.toLowerCase());
            assertThat(text.indexOf("::")).as(text).isEqualTo(text.lastIndexOf("::"));
            int cut = text.indexOf("::");
            String[] before = cut < 0 ? text.split(":") : text.substring(0, cut).split(":", -1);
            String[] after = cut < 0 ? new String[0] : text.substring(cut + 2).split(":", -1);
            int omitted = cut < 0 ? 0 : 8 - (cut == 0 ? 0 : before.length) - (cut + 2 == text.length() ? 0 : after.length);
            assertThat(omitted).as(text).isNotEqualTo(1);
            // RFC 5952: the longest run of zero groups is the one left out; on a tie, the first.
            assertThat(longestZeroRun(before)).as(text).isLessThan(Math.max(omitted, 2));
            assertThat(longestZeroRun(after)).as(text).isLessThanOrEqualTo(Math.max(omitted, 1));
        }
    }

    private static int longestZeroRun(String[] groups) {
        int longest = 0;
        int run = 0;
        for (String group : groups) {
            run = group.equals("0") ? run + 1 : 0;
            longest = Math.max(longest, run);
        }
        return longest;
    }
}

package dev.flags.client;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The SDK's layering, checked on its compiled classes. */
class ArchitectureTest {

    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.flags.client");
    }

    @Test
    void onlyTheProviderPackageUsesOpenFeatureSoTheDependencyStaysOptional() {
        noClasses().that().resideOutsideOfPackage("dev.flags.client.openfeature..")
                .should().dependOnClassesThat().resideInAPackage("dev.openfeature..")
                .check(classes);
    }

    @Test
    void theProviderAndTheApplicationFacingApiUseNoImplementationDetails() {
        noClasses().that().resideInAnyPackage("dev.flags.client", "dev.flags.client.openfeature..")
                .should().dependOnClassesThat().resideInAnyPackage("io.grpc..", "com.google.protobuf..", "dev.flags.protocol..")
                .check(classes);
        noClasses().that().resideInAPackage("dev.flags.client.openfeature..")
                .should().dependOnClassesThat().resideInAPackage("dev.flags.client.internal..")
                .check(classes);
    }

    @Test
    void theClientNeverImportsTheServerNorNamesTheTransport() {
        noClasses().should().dependOnClassesThat()
                .resideInAnyPackage("dev.flags.server..", "dev.flags.cli..", "dev.flags.examples..", "io.grpc.netty..")
                .check(classes);
    }
}

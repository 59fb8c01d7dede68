"""TLS for the gRPC servers, with client certificates required when a client CA is given.

In Kubernetes each service mounts its certificate and key (issued by cert-manager or a mesh);
with `FAIRTASK_TLS_CLIENT_CA_FILE` set, a caller without a certificate signed by that CA is
refused during the handshake: that is the service-to-service identity (mTLS). Unset, the
server listens in plaintext, as on a developer's machine and in the local stack.
"""

from pathlib import Path

import grpc

from fairtask_runtime.settings import ServiceSettings


def server_credentials(settings: ServiceSettings) -> grpc.ServerCredentials | None:
    """None for plaintext; raises OSError if a configured file cannot be read."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    pair = (settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())
    client_ca = settings.tls_client_ca_file
    return grpc.ssl_server_credentials(
        [pair],
        root_certificates=client_ca.read_bytes() if client_ca is not None else None,
        require_client_auth=client_ca is not None,
    )


def channel_credentials(
    ca_file: Path, cert_file: Path | None = None, key_file: Path | None = None
) -> grpc.ChannelCredentials:
    """What a client (another service, a platform) presents: the CA that signed the server's
    certificate and, for mTLS, its own certificate and key."""
    return grpc.ssl_channel_credentials(
        root_certificates=ca_file.read_bytes(),
        private_key=key_file.read_bytes() if key_file is not None else None,
        certificate_chain=cert_file.read_bytes() if cert_file is not None else None,
    )

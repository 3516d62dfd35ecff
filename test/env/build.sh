#!/usr/bin/env bash
# Builds one real test server or client from its Go module (or PyPI) at the version pinned in
# versions.env, into ${CUSTOS_CACHE:-~/.cache/custos}/<tool>-<version>/. Idempotent and safe to
# run concurrently: a per-tool flock means each tool is built at most once.
#
# usage: test/env/build.sh kubernetes|etcd|vault|moto|kubeseal|helm|secrets-store-csi-driver|eso|vso|postgresql   (prints the install dir)
#
# postgresql is not built: Debian's postgresql-<major> is used where it is installed
# (/usr/lib/postgresql/<major>, printed as is); otherwise its packages (and the libraries it needs
# that are not installed) are fetched with `apt-get download` and unpacked with `dpkg -x` into the
# cache. CUSTOS_POSTGRES_DOWNLOAD=1 forces the download. The printed dir holds bin/ and, for a
# download, ld-library-path (the unpacked libraries' directories).
#
# eso (the real External Secrets Operator, for the differential harness only; not used by npm test)
# is built from its public git repository: ESO_SOURCE_GIT names a git directory (a clone or mirror of
# github.com/external-secrets/external-secrets) holding the tag ESO_VERSION. Its nested modules are
# replaced by ./paths in its go.mod and are not served by the module proxy, so the tree is exported
# whole and built in place; its dependencies come from the module proxy.
#
# vso (the real Vault Secrets Operator, for the VSO differential harness only; not used by npm test)
# is built the same way from VSO_SOURCE_GIT, a git directory of github.com/hashicorp/vault-secrets-operator
# holding the tag VSO_VERSION; its CRDs (config/crd/bases) are copied next to the binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
tool=${1:?usage: build.sh kubernetes|etcd|vault|moto|kubeseal|helm|secrets-store-csi-driver|eso|vso|postgresql}
cache=${CUSTOS_CACHE:-$HOME/.cache/custos}
mkdir -p "$cache"

need() { command -v "$1" >/dev/null 2>&1 || { echo "custos test env: cannot build $tool: '$1' is not installed ($2)" >&2; exit 3; }; }

case "$tool" in
  kubernetes) version=$KUBERNETES_VERSION ;;
  etcd) version=$ETCD_VERSION ;;
  vault) version=$VAULT_VERSION ;;
  moto) version=$MOTO_VERSION ;;
  kubeseal) version=$KUBESEAL_VERSION ;;
  helm) version=$HELM_VERSION ;;
  secrets-store-csi-driver) version=$SECRETS_STORE_CSI_DRIVER_VERSION ;;
  eso) version=$ESO_VERSION ;;
  vso) version=$VSO_VERSION ;;
  postgresql)
    version=$POSTGRESQL_VERSION
    system=/usr/lib/postgresql/$version
    if [ -z "${CUSTOS_POSTGRES_DOWNLOAD:-}" ] && [ -x "$system/bin/postgres" ] && [ -x "$system/bin/initdb" ]; then
      echo "$system"; exit 0
    fi ;;
  *) echo "unknown tool: $tool" >&2; exit 2 ;;
esac
dest="$cache/$tool-$version"
[ -f "$dest/.complete" ] && { echo "$dest"; exit 0; }

exec 9>"$cache/$tool.lock"
flock 9
[ -f "$dest/.complete" ] && { echo "$dest"; exit 0; }

work=$(mktemp -d "$cache/.build-$tool-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

# A wrapper module that depends on a module whose go.mod replaces its own nested/staging modules.
wrapper() { # wrapper <module> <version>
  mkdir -p "$work/wrap" && cd "$work/wrap"
  go mod init custos.local/wrap-"$tool" >/dev/null 2>&1
  go mod edit -require="$1@$2"
}

log() { echo "custos test env: $*" >&2; }

case "$tool" in
  kubernetes)
    need go "the Go toolchain builds kube-apiserver from k8s.io/kubernetes"
    log "building kube-apiserver, kube-controller-manager, kubectl $version (several minutes, once)"
    wrapper k8s.io/kubernetes "$version"
    minor=$(echo "$version" | cut -d. -f2); patch=$(echo "$version" | cut -d. -f3)
    modfile=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    # Every staging module the real go.mod replaces with ./staging becomes its published v0.N.P.
    for m in $(grep -E '=> \./staging/' "$modfile" | awk '{print $1}' | sed 's/^replace//'); do
      go mod edit -replace="$m=$m@v0.$minor.$patch"
    done
    pkg=k8s.io/component-base/version
    ld="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
    for c in kube-apiserver kube-controller-manager kubectl; do
      go build -trimpath -ldflags "$ld" -o "$work/bin/$c" "k8s.io/kubernetes/cmd/$c"
    done
    ;;
  etcd)
    need go "the Go toolchain builds etcd from go.etcd.io/etcd/server/v3"
    log "building etcd $version (once)"
    wrapper go.etcd.io/etcd/server/v3 "$version"
    for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do go mod edit -require="go.etcd.io/etcd/$m@$version"; done
    go build -trimpath -ldflags "-s -w" -o "$work/bin/etcd" go.etcd.io/etcd/server/v3
    ;;
  vault)
    need go "the Go toolchain builds Vault from github.com/hashicorp/vault"
    log "building vault $version (several minutes, once)"
    wrapper github.com/hashicorp/vault "$version"
    modfile=$(go mod download -json "github.com/hashicorp/vault@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    # Non-local replaces of the root module apply to us too; its nested modules resolve to the
    # published versions its require block names.
    grep -E '^replace .* => [^.]' "$modfile" | sed 's/^replace //' | while IFS= read -r line; do
      left=${line%%=>*}; right=${line#*=>}
      read -r from fromver <<<"$left"; read -r to tover <<<"$right"
      go mod edit -replace="$from${fromver:+@$fromver}=$to${tover:+@$tover}"
    done
    go mod edit -replace="github.com/hashicorp/vault/sdk=github.com/hashicorp/vault/sdk@$VAULT_SDK_VERSION"
    go build -trimpath -ldflags "-s -w" -o "$work/bin/vault" github.com/hashicorp/vault
    ;;
  moto)
    need python3 "moto is installed from PyPI into a private virtualenv"
    log "installing moto[server]==$version into a virtualenv (once)"
    # venvs are not relocatable, so this one is made in place; .complete marks it usable.
    rm -rf "$dest"; mkdir -p "$dest"
    python3 -m venv "$dest/venv"
    "$dest/venv/bin/pip" install -q "moto[server]==$version"
    ln -sf "$dest/venv/bin/moto_server" "$work/bin/moto_server"
    ;;
  kubeseal)
    need go "the Go toolchain builds kubeseal from github.com/bitnami/sealed-secrets"
    log "building kubeseal $version (once)"
    # The project moved to github.com/bitnami/sealed-secrets; the checksum database mirror here
    # does not know that path yet, so its checksums come from the module proxy alone.
    export GONOSUMDB=github.com/bitnami/sealed-secrets
    wrapper github.com/bitnami/sealed-secrets "$version"
    go build -trimpath -ldflags "-s -w -X main.VERSION=$version" -o "$work/bin/kubeseal" github.com/bitnami/sealed-secrets/cmd/kubeseal
    ;;
  helm)
    need go "the Go toolchain builds helm from helm.sh/helm/v3"
    log "building helm $version (once)"
    wrapper helm.sh/helm/v3 "$version"
    go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$version" -o "$work/bin/helm" helm.sh/helm/v3/cmd/helm
    ;;
  secrets-store-csi-driver)
    need go "the Go toolchain builds the Secrets Store CSI driver from sigs.k8s.io/secrets-store-csi-driver"
    log "building secrets-store-csi-driver $version (once)"
    wrapper sigs.k8s.io/secrets-store-csi-driver "$version"
    # monis.app/mlog (its logging helper) is refused by the module proxy reachable here: a klog shim
    go mod edit -replace=monis.app/mlog="$here/shims/mlog"
    go build -trimpath -ldflags "-s -w -X sigs.k8s.io/secrets-store-csi-driver/pkg/version.BuildVersion=$version" \
      -o "$work/bin/secrets-store-csi-driver" sigs.k8s.io/secrets-store-csi-driver/cmd/secrets-store-csi-driver
    # its CRDs, and the CSI API it serves (for a test that plays the kubelet)
    mkdir -p "$work/share/crds"
    cp "$(go list -m -f '{{.Dir}}' sigs.k8s.io/secrets-store-csi-driver)"/config/crd/bases/*.yaml "$work/share/crds/"
    cp "$(go list -m -f '{{.Dir}}' github.com/container-storage-interface/spec)/csi.proto" "$work/share/"
    ;;
  eso)
    need go "the Go toolchain builds ESO from its source"
    need git "the ESO source is exported from a git directory"
    src=${ESO_SOURCE_GIT:-}
    [ -n "$src" ] && git --git-dir="$src" rev-parse -q --verify "refs/tags/$version" >/dev/null || {
      echo "custos test env: cannot build eso: set ESO_SOURCE_GIT to a git directory of github.com/external-secrets/external-secrets with tag $version" >&2; exit 3; }
    log "building external-secrets $version from $src (tags vault,aws,fake; many minutes, once)"
    mkdir -p "$work/src"
    git --git-dir="$src" archive "$version" | tar -x -C "$work/src"
    cd "$work/src"
    go build -trimpath -tags vault,aws,fake -ldflags "-s -w" -o "$work/bin/external-secrets" .
    # its CRDs go with it: the differential harness installs ESO's own for its phase
    mkdir -p "$dest/crds"
    cp config/crds/bases/*.yaml "$dest/crds/"
    ;;
  vso)
    need go "the Go toolchain builds VSO from its source"
    need git "the VSO source is exported from a git directory"
    src=${VSO_SOURCE_GIT:-}
    [ -n "$src" ] && git --git-dir="$src" rev-parse -q --verify "refs/tags/$version" >/dev/null || {
      echo "custos test env: cannot build vso: set VSO_SOURCE_GIT to a git directory of github.com/hashicorp/vault-secrets-operator with tag $version" >&2; exit 3; }
    log "building vault-secrets-operator $version from $src (many minutes, once)"
    mkdir -p "$work/src"
    git --git-dir="$src" archive "$version" | tar -x -C "$work/src"
    cd "$work/src"
    go build -trimpath -ldflags "-s -w" -o "$work/bin/manager" .
    mkdir -p "$dest/crds"
    cp config/crd/bases/*.yaml "$dest/crds/"
    ;;
  postgresql)
    need apt-get "Debian's postgresql-$version packages are fetched with apt-get download"
    need dpkg "the packages are unpacked with dpkg -x"
    log "fetching Debian's postgresql-$version with apt-get download (once)"
    mkdir -p "$work/debs" && cd "$work/debs"
    pkgs="postgresql-$version postgresql-client-$version"
    # the libraries its binaries link that a minimal system may lack
    for p in libpq5 libicu72 libxml2 libldap-2.5-0 libsasl2-2 libgssapi-krb5-2 libkrb5-3 libk5crypto3 \
      libkrb5support0 libssl3 liblz4-1 libzstd1 libreadline8; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || pkgs="$pkgs $p"
    done
    # shellcheck disable=SC2086
    apt-get download $pkgs >&2
    rm -rf "$dest"; mkdir -p "$dest/root"
    for deb in ./*.deb; do dpkg -x "$deb" "$dest/root"; done
    ln -s "root/usr/lib/postgresql/$version/bin" "$dest/bin"
    arch=$(uname -m)-linux-gnu
    printf '%s\n' "$dest/root/usr/lib/$arch:$dest/root/lib/$arch" >"$dest/ld-library-path"
    ls ./*.deb >"$dest/packages"
    touch "$dest/.complete"
    log "postgresql $version ready in $dest"
    echo "$dest"; exit 0
    ;;
esac

mkdir -p "$dest/bin"
cp -a "$work/bin/." "$dest/bin/"
if [ -d "$work/share" ]; then cp -a "$work/share" "$dest/"; fi
touch "$dest/.complete"
log "$tool $version ready in $dest"
echo "$dest"

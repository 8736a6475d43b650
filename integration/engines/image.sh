# integration/engines/image.sh: builds the busybox image offline (sourced by run.sh).
# Owns: the rootfs (static busybox + applet links), its tarball, and a hand-made OCI
# image layout archive (oci-layout, index.json, manifest, config, one layer) that
# `ctr image import` accepts.

# build_image DIR: writes DIR/rootfs.tar and DIR/oci.tar.
build_image() {
    local d=$1 rootfs=$1/rootfs a
    mkdir -p "$rootfs"/{bin,dev,etc,proc,sys,tmp,root}
    cp /bin/busybox "$rootfs/bin/busybox"
    for a in $("$rootfs/bin/busybox" --list); do
        [ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
    echo 'root:x:0:' >"$rootfs/etc/group"
    chmod 1777 "$rootfs/tmp"
    tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$rootfs" -cf "$d/rootfs.tar" .

    local oci=$d/oci blobs=$d/oci/blobs/sha256
    mkdir -p "$blobs"
    local layer_sha layer_size cfg_sha cfg_size man_sha man_size
    layer_sha=$(sha256sum "$d/rootfs.tar" | cut -d' ' -f1)
    layer_size=$(stat -c %s "$d/rootfs.tar")
    cp "$d/rootfs.tar" "$blobs/$layer_sha"
    printf '%s' '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:'"$layer_sha"'"]}}' >"$d/config.json"
    cfg_sha=$(sha256sum "$d/config.json" | cut -d' ' -f1)
    cfg_size=$(stat -c %s "$d/config.json")
    mv "$d/config.json" "$blobs/$cfg_sha"
    printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'"$cfg_sha"'","size":'"$cfg_size"'},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:'"$layer_sha"'","size":'"$layer_size"'}]}' >"$d/manifest.json"
    man_sha=$(sha256sum "$d/manifest.json" | cut -d' ' -f1)
    man_size=$(stat -c %s "$d/manifest.json")
    mv "$d/manifest.json" "$blobs/$man_sha"
    printf '%s' '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:'"$man_sha"'","size":'"$man_size"',"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"'"$IMG"'","org.opencontainers.image.ref.name":"latest"}}]}' >"$oci/index.json"
    printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
    tar -C "$oci" -cf "$d/oci.tar" .
}

# The GitOps engine: commits Weir's manifests under gitops/flux-system/ in this repository,
# installs Weir, and waits until the cluster syncs gitops/. From then on, push to gitops/.
# The controller needs pod networking, hence the dependency on the CNI.
resource "weir_bootstrap_git" "this" {
  depends_on = [helm_release.cilium]

  path    = "${path.module}/../gitops"
  version = var.weir_version

  timeouts = {
    create = "10m"
  }
}

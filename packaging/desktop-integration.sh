#!/bin/sh
# Put Dataelan Desktop into this user's application menu, or take it out again:
#
#   desktop-integration.sh install [COMMAND]    # COMMAND: the dataelan executable (absolute path)
#   desktop-integration.sh uninstall
#
# Installs, under ${XDG_DATA_HOME:-~/.local/share}: the desktop entry (which also makes Dataelan the
# handler of .gguf files and of dataelan:// links), the icons (hicolor theme), the shared-mime-info
# type for .gguf files and the AppStream metainfo. No root needed; nothing outside that folder changes.
# Works from a checkout (files in packaging/ and resources/icons/) and from the bundle (files in
# share/ beside this script, which `make package` copies as install-desktop.sh).
set -eu

APP_ID=io.dataelan.Desktop
action=${1:-}
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}

if [ -d "$here/share/applications" ]; then  # the bundle
    desktop_src=$here/share/applications/$APP_ID.desktop
    mime_src=$here/share/mime/packages/$APP_ID.xml
    metainfo_src=$here/share/metainfo/$APP_ID.metainfo.xml
    icons_src=$here/share/icons/hicolor
    svg_src=$icons_src/scalable/apps/$APP_ID.svg
    default_exec=$here/dataelan
else  # a checkout
    root=$(dirname "$here")
    desktop_src=$here/$APP_ID.desktop
    mime_src=$here/$APP_ID.mime.xml
    metainfo_src=$here/$APP_ID.metainfo.xml
    icons_src=$root/resources/icons/hicolor
    svg_src=$root/resources/icons/$APP_ID.svg
    default_exec=$root/.venv/bin/dataelan
fi

refresh() {  # the caches desktops read; each tool is optional (a minimal system may lack it)
    if command -v update-mime-database >/dev/null 2>&1 && [ -d "$data/mime/packages" ]; then
        update-mime-database "$data/mime" >/dev/null 2>&1 || true
    fi
    if command -v update-desktop-database >/dev/null 2>&1 && [ -d "$data/applications" ]; then
        update-desktop-database "$data/applications" >/dev/null 2>&1 || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$data/icons/hicolor/icon-theme.cache" ]; then
        gtk-update-icon-cache -q -f -t "$data/icons/hicolor" >/dev/null 2>&1 || true
    fi
}

# The desktop entry spec: inside a quoted Exec argument, " ` $ and \ take a backslash, and then every
# backslash is doubled again by the string escaping of the file format.
exec_quoted() {
    printf '"%s"' "$(printf '%s' "$1" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g')"
}

sed_text() {  # $1 as literal text in a sed replacement (delimiter |)
    printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

case $action in
install)
    command=${2:-$default_exec}
    case $command in
    /*) ;;
    *) echo "error: the command must be an absolute path, not $command" >&2; exit 2 ;;
    esac
    if [ ! -x "$command" ]; then
        echo "error: $command is not an executable; build it first (make package, or make run)" >&2
        exit 1
    fi
    mkdir -p "$data/applications" "$data/mime/packages" "$data/metainfo"
    exec_value=$(sed_text "$(exec_quoted "$command")")
    try_exec=$(sed_text "$(printf '%s' "$command" | sed -e 's/\\/\\\\/g')")
    # TryExec hides the entry if the app is moved or deleted
    sed -e "s|^Exec=dataelan |Exec=$exec_value |" -e "s|^\\(Exec=.*\\)|TryExec=$try_exec\\n\\1|" \
        "$desktop_src" > "$data/applications/$APP_ID.desktop"
    cp "$mime_src" "$data/mime/packages/$APP_ID.xml"
    cp "$metainfo_src" "$data/metainfo/$APP_ID.metainfo.xml"
    for icon in "$icons_src"/*/apps/$APP_ID.png; do
        size=$(basename "$(dirname "$(dirname "$icon")")")
        mkdir -p "$data/icons/hicolor/$size/apps"
        cp "$icon" "$data/icons/hicolor/$size/apps/"
    done
    mkdir -p "$data/icons/hicolor/scalable/apps"
    cp "$svg_src" "$data/icons/hicolor/scalable/apps/$APP_ID.svg"
    refresh
    echo "installed $data/applications/$APP_ID.desktop (runs $command)"
    ;;
uninstall)
    rm -f "$data/applications/$APP_ID.desktop" "$data/mime/packages/$APP_ID.xml" \
        "$data/metainfo/$APP_ID.metainfo.xml" "$data/icons/hicolor"/*/apps/$APP_ID.png \
        "$data/icons/hicolor/scalable/apps/$APP_ID.svg"
    refresh
    echo "removed Dataelan Desktop's menu entry, icons and file types from $data"
    ;;
*)
    echo "usage: $0 install [COMMAND] | uninstall" >&2
    exit 2
    ;;
esac

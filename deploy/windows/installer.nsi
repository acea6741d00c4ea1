; The MT Gateway installer for Windows (x64), for the current user, without administrator rights.
;
; Built on Linux by `python -m deploy.windows.build --out DIR` with Debian's makensis, which
; passes VERSION (the release), STAGE (the folder build.py filled: python\, bin\, docs\),
; OUTFILE and COMPRESSOR (lzma, or zlib for a faster build). It installs into
; %LOCALAPPDATA%\Programs\MT Gateway (or /D=...), puts bin\ (the
; `mtgateway` command) on the user's PATH, adds the Start-menu entries and an uninstaller
; registered under Apps (HKCU). Silent: `mtgateway-<version>-win64.exe /S`.
;
; Its last page says what to do next in an owner's words ("terminal" is MetaTrader to an owner,
; so the command prompt is named as such) and offers to run setup at once.
;
; The uninstaller first undoes what `mtgateway setup` did (`mtgateway setup --undo`: the EA's
; files leave the MetaTrader terminals and the tokens setup issued are revoked), since once the
; program is gone nothing else can: asked first when setup's record is there, done unasked by a
; silent uninstall unless /KEEPSETUP is passed; what stays when it is not done is said. Then it
; stops and deletes the log-on task `mtgateway setup` registered (its command is this install's
; python.exe) and removes what the installer wrote. The owner's data (%LOCALAPPDATA%\mtgateway:
; the device key's file fallback, the token authority, the journal;
; %APPDATA%\mtgateway\config.toml) stays, unless the owner ticks "also remove my data" when
; asked, or passes /REMOVEDATA to a silent uninstall.

Unicode true
Target amd64-unicode
ManifestDPIAware true
RequestExecutionLevel user
!ifndef COMPRESSOR
  !define COMPRESSOR lzma
!endif
SetCompressor /SOLID ${COMPRESSOR}

!include MUI2.nsh
!include LogicLib.nsh
!include StrFunc.nsh
!include FileFunc.nsh
!include WinMessages.nsh
${StrStr}
${UnStrStr}
${UnStrRep}

!define PRODUCT "MT Gateway"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\MTGateway"
!define TASK "MTGateway"

Name "${PRODUCT} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${PRODUCT}"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
ShowInstDetails show
ShowUninstDetails show
BrandingText "${PRODUCT} ${VERSION}"
VIProductVersion "0.0.0.0"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${PRODUCT} ${VERSION} installer"
VIAddVersionKey "LegalCopyright" "MIT License"

; The last page: what to do next, and a box (ticked) that runs setup now in a console window
; that stays open, as the Start menu's entry does.
!define NEXT_STEP "Start menu → MT Gateway → Set up MT Gateway (or type mtgateway setup in a new Command Prompt)"
!define MUI_FINISHPAGE_TITLE "MT Gateway is installed"
!define MUI_FINISHPAGE_TEXT "Next: ${NEXT_STEP}.$\r$\n$\r$\nSetup finds your MetaTrader terminals, installs the EA into the ones you pick, issues its token and checks it."
!define MUI_FINISHPAGE_RUN
!define MUI_FINISHPAGE_RUN_TEXT "Set up MT Gateway now"
!define MUI_FINISHPAGE_RUN_FUNCTION RunSetup
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

; What stays in MetaTrader when setup is not undone, said before anything is removed.
!define SETUP_STAYS "The EA stays in your MetaTrader terminals and its token stays valid"

Var removeData
Var undoSetup

Function RunSetup
  Exec '"$SYSDIR\cmd.exe" /k ""$INSTDIR\bin\mtgateway.exe" setup"'
FunctionEnd

Section "MT Gateway"
  SetShellVarContext current
  SetOutPath "$INSTDIR"
  ; A reinstall replaces the interpreter and its packages whole: a package removed from this
  ; release must not linger from the last one.
  RMDir /r "$INSTDIR\python"
  File /r "${STAGE}\python"
  File /r "${STAGE}\bin"
  File /r "${STAGE}\docs"
  WriteUninstaller "$INSTDIR\Uninstall.exe"

  ; `mtgateway` on the user's PATH (HKCU\Environment), once.
  ReadRegStr $0 HKCU "Environment" "Path"
  ${StrStr} $1 ";$0;" ";$INSTDIR\bin;"
  ${If} $1 == ""
    ${If} $0 == ""
      WriteRegExpandStr HKCU "Environment" "Path" "$INSTDIR\bin"
    ${Else}
      WriteRegExpandStr HKCU "Environment" "Path" "$0;$INSTDIR\bin"
    ${EndIf}
    SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=2000
  ${EndIf}

  ; The Start menu: set up, check, the console, the docs, uninstall. Each command runs in a
  ; console that stays open (cmd /k), so its last lines can be read.
  CreateDirectory "$SMPROGRAMS\${PRODUCT}"
  CreateShortcut "$SMPROGRAMS\${PRODUCT}\Set up MT Gateway.lnk" "$SYSDIR\cmd.exe" \
    '/k ""$INSTDIR\bin\mtgateway.exe" setup"' "$INSTDIR\bin\mtgateway.exe" 0 SW_SHOWNORMAL "" \
    "Find your MetaTrader terminals, install and compile the EA, issue its token"
  ; check, told nothing, reads what setup wrote for this user, as a bot's initialize() does
  CreateShortcut "$SMPROGRAMS\${PRODUCT}\Check MT Gateway.lnk" "$SYSDIR\cmd.exe" \
    '/k ""$INSTDIR\bin\mtgateway.exe" check"' \
    "$INSTDIR\bin\mtgateway.exe" 0 SW_SHOWNORMAL "" \
    "Check the EA connected to the daemon, as any client sees it"
  ; The console is its own command (mtgateway-console, python -m mtgateway_console), on the
  ; same per-user config and data directory as the daemon: the authority setup issued from.
  CreateShortcut "$SMPROGRAMS\${PRODUCT}\MT Gateway console.lnk" "$SYSDIR\cmd.exe" \
    '/k ""$INSTDIR\python\python.exe" -m mtgateway_console"' "$INSTDIR\bin\mtgateway.exe" 0 \
    SW_SHOWNORMAL \
    "" "Serve the web console on http://127.0.0.1:8720/ (keep this window open)"
  WriteINIStr "$SMPROGRAMS\${PRODUCT}\Open the console.url" "InternetShortcut" "URL" \
    "http://127.0.0.1:8720/"
  CreateShortcut "$SMPROGRAMS\${PRODUCT}\MT Gateway docs.lnk" "$INSTDIR\docs"
  CreateShortcut "$SMPROGRAMS\${PRODUCT}\Uninstall MT Gateway.lnk" "$INSTDIR\Uninstall.exe"

  ; Apps & features (per user).
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\bin\mtgateway.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\Uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" $0

  DetailPrint "Installed. Next: ${NEXT_STEP}"
SectionEnd

Function un.onInit
  StrCpy $removeData "0"
  StrCpy $undoSetup "1"
  ${GetParameters} $0
  ClearErrors
  ${GetOptions} $0 "/REMOVEDATA" $1
  ${IfNot} ${Errors}
    StrCpy $removeData "1"
  ${EndIf}
  ClearErrors
  ${GetOptions} $0 "/KEEPSETUP" $1
  ${IfNot} ${Errors}
    StrCpy $undoSetup "0"
  ${EndIf}
  ${IfNot} ${Silent}
  ${AndIf} ${FileExists} "$LOCALAPPDATA\mtgateway\setup.json"
    MessageBox MB_YESNO|MB_ICONQUESTION \
      "MT Gateway's setup put its EA into your MetaTrader terminals and issued the token it connects with.$\r$\n$\r$\nTake them out first (mtgateway setup --undo)?$\r$\n$\r$\nYes: the EA's files leave your terminals and its token is revoked.$\r$\nNo: ${SETUP_STAYS} until it expires or you revoke it." \
      IDYES undo
    StrCpy $undoSetup "0"
    undo:
  ${EndIf}
  ${IfNot} ${Silent}
    MessageBox MB_YESNO|MB_DEFBUTTON2|MB_ICONQUESTION \
      "Also remove your MT Gateway data?$\r$\n$\r$\nThis deletes $LOCALAPPDATA\mtgateway (this machine's device key file, the token authority with its owners and tokens, the trade journal) and $APPDATA\mtgateway (the config). Answer No to keep them for a later install." \
      IDNO keep
    StrCpy $removeData "1"
    keep:
  ${EndIf}
FunctionEnd

Section "Uninstall"
  SetShellVarContext current
  ; What setup put into MetaTrader, while the program that can take it out is still here. It
  ; finds its own record (the config's data_dir); with nothing set up it says so.
  ${If} $undoSetup == "1"
    DetailPrint "Taking out what mtgateway setup put into MetaTrader (mtgateway setup --undo):"
    nsExec::ExecToLog '"$INSTDIR\python\python.exe" -m gateway setup --undo --yes'
    Pop $0
    ${If} $0 != "0"
      DetailPrint "mtgateway setup --undo did not finish ($0): ${SETUP_STAYS} where it was not taken out."
      ${IfNot} ${Silent}
        MessageBox MB_YESNO|MB_ICONEXCLAMATION \
          "mtgateway setup --undo did not finish (the details say why): ${SETUP_STAYS} where it was not taken out.$\r$\n$\r$\nUninstall anyway?" \
          IDYES +2
        Abort
      ${EndIf}
    ${EndIf}
  ${Else}
    DetailPrint "${SETUP_STAYS}: setup was not undone."
  ${EndIf}
  ; The log-on task runs this install's python.exe: stop it, then delete it.
  nsExec::ExecToLog '"$SYSDIR\schtasks.exe" /End /TN ${TASK}'
  Pop $0
  nsExec::ExecToLog '"$SYSDIR\schtasks.exe" /Delete /TN ${TASK} /F'
  Pop $0

  RMDir /r "$INSTDIR\python"
  RMDir /r "$INSTDIR\bin"
  RMDir /r "$INSTDIR\docs"
  Delete "$INSTDIR\Uninstall.exe"
  RMDir "$INSTDIR"
  RMDir /r "$SMPROGRAMS\${PRODUCT}"

  ; bin\ off the user's PATH, wherever it stands in it.
  ReadRegStr $0 HKCU "Environment" "Path"
  ${UnStrRep} $1 ";$0;" ";$INSTDIR\bin;" ";"
  ${UnStrRep} $1 "$1" ";;" ";"
  StrCpy $2 $1 1
  ${If} $2 == ";"
    StrCpy $1 $1 "" 1
  ${EndIf}
  StrCpy $2 $1 1 -1
  ${If} $2 == ";"
    StrCpy $1 $1 -1
  ${EndIf}
  ${If} $1 != $0
    ${If} $1 == ""
      DeleteRegValue HKCU "Environment" "Path"
    ${Else}
      WriteRegExpandStr HKCU "Environment" "Path" "$1"
    ${EndIf}
    SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=2000
  ${EndIf}

  DeleteRegKey HKCU "${UNINSTALL_KEY}"

  ${If} $removeData == "1"
    RMDir /r "$LOCALAPPDATA\mtgateway"
    RMDir /r "$APPDATA\mtgateway"
    DetailPrint "Removed your MT Gateway data."
  ${Else}
    DetailPrint "Kept your MT Gateway data in $LOCALAPPDATA\mtgateway and $APPDATA\mtgateway."
  ${EndIf}
SectionEnd
